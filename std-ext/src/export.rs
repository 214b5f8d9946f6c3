//! Exporting a trained MLP for a device, as the model blob that
//! [`descent_core::nn::ModelBlob`] reads (format in its documentation).
//!
//! The layout changes on the way: [`Mlp`] stores each W row-major as `[inputs][outputs]` (so a
//! batch is X·W), descent-core's [`descent_core::nn::Dense`] as `[outputs][inputs]` (PyTorch's
//! `nn.Linear`, y = W·x). The export transposes every W; the function computed stays the same.

use crate::checkpoint::Checkpoint;
use crate::model::{Activation, Mlp};
use descent_core::nn::{Activation as BlobActivation, BLOB_MAGIC, BLOB_VERSION};

/// Transposes a row-major `rows × cols` matrix into a row-major `cols × rows` one.
pub fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

fn blob_activation(a: Activation) -> BlobActivation {
    match a {
        Activation::Relu => BlobActivation::Relu,
        Activation::Tanh => BlobActivation::Tanh,
        Activation::Sigmoid => BlobActivation::Sigmoid,
    }
}

/// The model blob of `model` with parameters `params`: header, every layer's W transposed to
/// `[outputs][inputs]` and its b, CRC-32.
pub fn model_blob(model: &Mlp, params: &[f32]) -> Result<Vec<u8>, String> {
    if params.len() != model.num_params() {
        return Err(format!("{} parameters given, the model has {}", params.len(), model.num_params()));
    }
    let layers = u8::try_from(model.layers().len())
        .map_err(|_| format!("{} layers, a model blob holds at most 255", model.layers().len()))?;
    let mut out = Vec::with_capacity(12 + 4 * model.sizes().len() + 4 * params.len());
    out.extend_from_slice(&BLOB_MAGIC);
    out.extend_from_slice(&BLOB_VERSION.to_le_bytes());
    out.push(blob_activation(model.activation()).id());
    out.push(layers);
    for &w in model.sizes() {
        let w = u32::try_from(w).map_err(|_| format!("layer width {w} does not fit in 32 bits"))?;
        out.extend_from_slice(&w.to_le_bytes());
    }
    for l in model.layers() {
        let w = transpose(&params[l.w.clone()], l.inputs, l.outputs);
        for v in w.iter().chain(&params[l.b.clone()]) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// The model blob of a checkpoint written by `descent train --save`.
pub fn checkpoint_blob(ckpt: &Checkpoint) -> Result<Vec<u8>, String> {
    let model = Mlp::new(&ckpt.sizes, ckpt.activation)?;
    model_blob(&model, &ckpt.params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Init;
    use descent_core::nn::{Dense, ModelBlob, relu};

    #[test]
    fn transpose_moves_every_element_once() {
        // [[1, 2, 3], [4, 5, 6]] → [[1, 4], [2, 5], [3, 6]].
        assert_eq!(transpose(&[1., 2., 3., 4., 5., 6.], 2, 3), [1., 4., 2., 5., 3., 6.]);
    }

    /// The blob read by the core computes what the host model computes: W[o][i] in the core is
    /// W[i][o] in the MLP, bit for bit, and the two forward passes agree.
    #[test]
    fn exported_blob_computes_the_host_models_function() {
        let model = Mlp::new(&[5, 4, 3], Activation::Relu).unwrap();
        let mut params = model.init_params(Init::He, 7);
        for (k, b) in params[model.layers()[0].b.clone()].iter_mut().enumerate() {
            *b = 0.1 * k as f32 - 0.15;
        }
        let bytes = model_blob(&model, &params).unwrap();
        let blob = ModelBlob::parse(&bytes).unwrap();
        assert_eq!((blob.layers(), blob.width(0), blob.width(2)), (2, Some(5), Some(3)));
        let mut l1 = Dense::<f32, 5, 4>::zeros();
        blob.layer::<5, 4>(0).unwrap().load_into(&mut l1);
        let l2 = blob.layer::<4, 3>(1).unwrap();
        let w = &params[model.layers()[0].w.clone()];
        for o in 0..4 {
            for i in 0..5 {
                assert_eq!(l1.w[o][i].to_bits(), w[i * 4 + o].to_bits());
            }
        }
        let x = [0.3f32, -1.2, 0.8, 2.0, -0.4];
        let mut ws = model.workspace(1);
        let host = model.forward(&params, &x, 1, &mut ws).to_vec();
        let (mut h, mut z) = ([0.0f32; 4], [0.0f32; 3]);
        l1.forward(&x, &mut h);
        relu(&mut h);
        l2.forward(&h, &mut z);
        for (a, b) in z.iter().zip(&host) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{z:?} vs {host:?}");
        }
        assert!(blob.layer::<4, 5>(0).is_err() && blob.layer::<4, 3>(2).is_err());
        assert!(model_blob(&model, &params[1..]).is_err());
    }
}
