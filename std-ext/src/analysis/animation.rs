//! Watch the optimizers move: an animated contour map (SVG with SMIL animation, which browsers
//! play in an `<img>`), one dot per optimizer stepping along its path, for the exercise "watch the
//! optimizer move" of the book. The static paths stay drawn underneath, so a viewer that does not
//! animate still shows the whole run.

use super::functions::{Objective, Surface};
use super::output::Output;
use super::trajectories::{Run, run_all};
use crate::plot::{Contour, Series};

/// The default runs: plain SGD, heavy-ball momentum and Adam with the learning rates of
/// [`super::trajectories::default_runs`], so the three characteristic motions show side by side.
pub fn default_runs(surface: Surface) -> (Vec<Run>, usize) {
    let (all, steps) = super::trajectories::default_runs(surface);
    let pick = [0, 1, 5]; // sgd, momentum, adam
    (pick.iter().map(|&i| all[i].clone()).collect(), steps)
}

/// At most `frames` points of each path, sampled at the same steps for every path, with the
/// step numbers they show.
pub fn frames(paths: &[Vec<(f64, f64)>], frames: usize) -> (Vec<Vec<(f64, f64)>>, Vec<usize>) {
    let longest = paths.iter().map(Vec::len).max().unwrap_or(0);
    if longest == 0 || frames == 0 {
        return (vec![Vec::new(); paths.len()], Vec::new());
    }
    let steps: Vec<usize> = if longest <= frames {
        (0..longest).collect()
    } else {
        // Dense early (where the motion is fast), sparser later: steps spaced as k².
        let mut s: Vec<usize> = (0..frames)
            .map(|k| ((k as f64 / (frames - 1) as f64).powi(2) * (longest - 1) as f64).round() as usize)
            .collect();
        s.dedup();
        s
    };
    let sampled = paths
        .iter()
        .map(|p| steps.iter().filter_map(|&k| p.get(k.min(p.len().saturating_sub(1))).copied()).collect())
        .collect();
    (sampled, steps)
}

/// Writes `<function>_animated.svg` (the animation, `seconds` per pass) for `surface`.
pub fn write_animation(
    out: &mut Output,
    surface: Surface,
    runs: Option<&[Run]>,
    steps: Option<usize>,
    seconds: f64,
) -> Result<(), String> {
    let (defaults, default_steps) = default_runs(surface);
    let runs = runs.unwrap_or(&defaults);
    let steps = steps.unwrap_or(default_steps);
    let results = run_all(&surface, runs, steps)?;
    let paths: Vec<Vec<(f64, f64)>> = results.iter().map(|(_, p)| p.xy()).collect();
    let (sampled, _) = frames(&paths, 150);
    let (xr, yr) = surface.window();
    let title =
        format!("Watch them move: {} from ({}, {})", surface.name(), surface.start()[0], surface.start()[1]);
    let mut map = Contour::of(&title, xr, yr, |x, y| surface.value(&[x, y]));
    map.log_levels = surface.log_levels();
    map.colour_label = "f(x, y)".into();
    map.overlays = results
        .iter()
        .zip(sampled)
        .map(|((r, _), points)| Series { name: r.label.clone(), points })
        .collect();
    let start = surface.start();
    map.marks.push(("start".into(), (start[0], start[1])));
    if let Some(m) = surface.minimizer() {
        map.marks.push(("minimum".into(), (m[0], m[1])));
    }
    out.svg(&format!("{}_animated.svg", surface.name()), |p| map.write_animated(p, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_sample_every_path_at_the_same_steps_first_and_last_included() {
        let a: Vec<(f64, f64)> = (0..1000).map(|k| (k as f64, 0.0)).collect();
        let b: Vec<(f64, f64)> = (0..10).map(|k| (k as f64, 1.0)).collect();
        let (s, steps) = frames(&[a, b], 50);
        assert_eq!((steps[0], *steps.last().unwrap()), (0, 999));
        assert!(steps.windows(2).all(|w| w[0] < w[1]) && steps.len() <= 50);
        assert_eq!(s[0].len(), steps.len());
        assert_eq!(s[1].last(), Some(&(9.0, 1.0))); // a shorter path holds its end
    }

    #[test]
    fn the_animation_moves_one_dot_per_run_and_counts_the_steps() {
        let dir = std::env::temp_dir().join(format!("descent-animation-{}", std::process::id()));
        let mut out = Output::new(&dir).unwrap();
        write_animation(&mut out, Surface::Ravine, None, Some(30), 6.0).unwrap();
        out.commit().unwrap();
        let svg = std::fs::read_to_string(dir.join("ravine_animated.svg")).unwrap();
        assert_eq!(svg.matches(" r=\"6\" fill").count(), 3);
        assert_eq!(svg.matches("attributeName=\"cx\"").count(), 3);
        assert!(svg.contains(">step 0<") && svg.contains(">step 30<") && svg.trim_end().ends_with("</svg>"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
