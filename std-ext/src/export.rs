//! Exporting a trained MLP for a device, as the model blob that
//! [`descent_core::nn::ModelBlob`] reads (format in its documentation).
//!
//! Two sources: a checkpoint of `descent train --save` ([`checkpoint_blob`]) and a PyTorch MLP saved
//! as safetensors ([`safetensors_blob`], what `tools/torch_mlp.py` writes).
//!
//! [`Mlp`], descent-core's [`descent_core::nn::Dense`] and PyTorch's `nn.Linear` all store W
//! row-major as `[outputs][inputs]` (y = W·x), so the weights go into the blob as they are.

use crate::checkpoint::Checkpoint;
use crate::model::{Activation, Mlp};
use descent_core::nn::{Activation as BlobActivation, BLOB_MAGIC, BLOB_VERSION};
use safetensors::{Dtype, SafeTensors};

fn blob_activation(a: Activation) -> BlobActivation {
    match a {
        Activation::Relu => BlobActivation::Relu,
        Activation::Tanh => BlobActivation::Tanh,
        Activation::Sigmoid => BlobActivation::Sigmoid,
    }
}

/// The model blob of `model` with parameters `params`: header, every layer's W (`[outputs][inputs]`,
/// as the MLP keeps it) and its b, CRC-32.
pub fn model_blob(model: &Mlp, params: &[f32]) -> Result<Vec<u8>, String> {
    if params.len() != model.num_params() {
        return Err(format!("{} parameters given, the model has {}", params.len(), model.num_params()));
    }
    let layers: Vec<(&[f32], &[f32])> =
        model.layers().iter().map(|l| (&params[l.w.clone()], &params[l.b.clone()])).collect();
    blob_bytes(blob_activation(model.activation()), model.sizes(), &layers)
}

/// A model blob: header (activation, widths), every layer's W (`[outputs][inputs]`) and b, CRC-32.
fn blob_bytes(
    activation: BlobActivation,
    widths: &[usize],
    layers: &[(&[f32], &[f32])],
) -> Result<Vec<u8>, String> {
    let count = u8::try_from(layers.len())
        .map_err(|_| format!("{} layers, a model blob holds at most 255", layers.len()))?;
    let values: usize = layers.iter().map(|(w, b)| w.len() + b.len()).sum();
    let mut out = Vec::with_capacity(12 + 4 * widths.len() + 4 * values);
    out.extend_from_slice(&BLOB_MAGIC);
    out.extend_from_slice(&BLOB_VERSION.to_le_bytes());
    out.push(activation.id());
    out.push(count);
    for &w in widths {
        let w = u32::try_from(w).map_err(|_| format!("layer width {w} does not fit in 32 bits"))?;
        out.extend_from_slice(&w.to_le_bytes());
    }
    for (w, b) in layers {
        for v in w.iter().chain(b.iter()) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// The `f32` values of tensor `name` of shape `shape`, or why not.
fn tensor_f32(st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let t = st.tensor(name).map_err(|_| format!("no tensor {name:?}"))?;
    if t.dtype() != Dtype::F32 {
        return Err(format!("tensor {name:?} is {:?}, expected F32", t.dtype()));
    }
    if t.shape() != shape {
        return Err(format!("tensor {name:?} has shape {:?}, expected {shape:?}", t.shape()));
    }
    let (values, rest) = t.data().as_chunks::<4>();
    if !rest.is_empty() || values.len() != shape.iter().product::<usize>() {
        return Err(format!("tensor {name:?} has {} data bytes for shape {shape:?}", t.data().len()));
    }
    Ok(values.iter().map(|b| f32::from_le_bytes(*b)).collect())
}

/// The model blob of a PyTorch MLP saved as safetensors: the `state_dict` of an `nn.Sequential` of
/// `nn.Linear` layers with one activation between them (`"<k>.weight"` `[out, in]` and
/// `"<k>.bias"` `[out]`, `float32`, k the module indices), the activation in the metadata
/// (`"activation"`: `"relu"`, `"tanh"` or `"sigmoid"`). Refuses anything else, naming what.
pub fn safetensors_blob(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
    let activation = match meta.metadata().as_ref().and_then(|m| m.get("activation")).map(String::as_str) {
        Some("relu") => BlobActivation::Relu,
        Some("tanh") => BlobActivation::Tanh,
        Some("sigmoid") => BlobActivation::Sigmoid,
        Some(other) => return Err(format!("activation {other:?}: expected relu, tanh or sigmoid")),
        None => return Err("no \"activation\" in the metadata (tools/torch_mlp.py writes it)".into()),
    };
    // The Linear layers, by module index.
    let mut indices = Vec::new();
    for name in st.names() {
        let (index, field) =
            name.split_once('.').ok_or(format!("tensor {name:?} is not <index>.weight or <index>.bias"))?;
        let index: usize =
            index.parse().map_err(|_| format!("tensor {name:?}: {index:?} is not a module index"))?;
        match field {
            "weight" => indices.push(index),
            "bias" => {}
            _ => return Err(format!("tensor {name:?} is not <index>.weight or <index>.bias")),
        }
    }
    indices.sort_unstable();
    if indices.is_empty() {
        return Err("no <index>.weight tensor: not an nn.Sequential of nn.Linear".into());
    }
    let mut widths = Vec::new();
    let mut layers = Vec::new();
    for &k in &indices {
        let w = st.tensor(&format!("{k}.weight")).map_err(|e| e.to_string())?;
        let &[outputs, inputs] = w.shape() else {
            return Err(format!("tensor \"{k}.weight\" has shape {:?}, expected [out, in]", w.shape()));
        };
        match widths.last() {
            None => widths.push(inputs),
            Some(&prev) if prev != inputs => {
                return Err(format!("layer {k} takes {inputs} inputs, the layer before gives {prev}"));
            }
            Some(_) => {}
        }
        widths.push(outputs);
        layers.push((
            tensor_f32(&st, &format!("{k}.weight"), &[outputs, inputs])?,
            tensor_f32(&st, &format!("{k}.bias"), &[outputs])?,
        ));
    }
    if st.len() != 2 * layers.len() {
        return Err(format!(
            "{} tensors, expected a weight and a bias per layer ({})",
            st.len(),
            2 * layers.len()
        ));
    }
    let layers: Vec<(&[f32], &[f32])> = layers.iter().map(|(w, b)| (&w[..], &b[..])).collect();
    blob_bytes(activation, &widths, &layers)
}

/// The model blob of a checkpoint written by `descent train --save`.
pub fn checkpoint_blob(ckpt: &Checkpoint) -> Result<Vec<u8>, String> {
    let model = Mlp::new(&ckpt.sizes, ckpt.activation)?;
    model_blob(&model, &ckpt.eval_params()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Init;
    use descent_core::nn::{Dense, ModelBlob, relu};

    /// The blob read by the core computes what the host model computes: W[o][i] in the core is
    /// W[o][i] in the MLP, bit for bit, and the two forward passes agree.
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
                assert_eq!(l1.w[o][i].to_bits(), w[o * 5 + i].to_bits());
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
