//! Command-line specs of named things with keyword arguments: `NAME` or
//! `NAME:key=value,key=value`, values in JSON (numbers, booleans, lists such as `[0.9,0.99]`;
//! anything else is taken as a bare string). A spec that starts with `{` is a JSON object.
//! Used for `--optimizer`-style arguments of `descent analyze` and for `--scheduler`.

use serde_json::{Map, Value};

/// Parses `spec` into keyword arguments with `"name"` set. `what` names the option in errors.
pub fn parse(what: &str, spec: &str) -> Result<Map<String, Value>, String> {
    let spec = spec.trim();
    if spec.starts_with('{') {
        return match serde_json::from_str::<Value>(spec) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(format!("{what}: not a JSON object: {spec}")),
        };
    }
    let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
    if name.trim().is_empty() {
        return Err(format!("{what}: missing a name in '{spec}'"));
    }
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.trim().to_string()));
    let mut depth = 0i32;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in rest.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&rest[start..]);
    for p in parts.into_iter().filter(|p| !p.trim().is_empty()) {
        let (k, v) = p.split_once('=').ok_or_else(|| format!("{what}: expected key=value, got '{p}'"))?;
        let v =
            serde_json::from_str::<Value>(v.trim()).unwrap_or_else(|_| Value::String(v.trim().to_string()));
        m.insert(k.trim().to_string(), v);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_keys_lists_and_json_objects_parse() {
        let m = parse("--optimizer", "adam:lr=0.01,betas=[0.8,0.99],amsgrad=true,mode=min").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"name": "adam", "lr": 0.01, "betas": [0.8, 0.99], "amsgrad": true, "mode": "min"})
        );
        assert_eq!(Value::Object(parse("x", "sgd").unwrap()), json!({"name": "sgd"}));
        assert_eq!(
            Value::Object(parse("x", r#"{"name": "sgd", "lr": 1}"#).unwrap()),
            json!({"name": "sgd", "lr": 1})
        );
    }

    #[test]
    fn malformed_specs_name_the_option() {
        assert!(parse("--optimizer", "adam:lr").unwrap_err().starts_with("--optimizer: expected key=value"));
        assert!(parse("--run", ":lr=1").unwrap_err().contains("missing a name"));
        assert!(parse("--run", "{oops").unwrap_err().contains("not a JSON object"));
    }
}
