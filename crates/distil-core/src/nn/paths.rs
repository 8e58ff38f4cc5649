//! Weight paths given as dotted HF keys (`attention.self.query`), which tch's paths take one
//! segment at a time.

use tch::nn;

/// `p` followed by each segment of `dotted`.
pub fn sub_path<'a>(p: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    let mut segments = dotted.split('.');
    let first = p / segments.next().unwrap_or_default();
    segments.fold(first, |path, segment| &path / segment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn each_segment_becomes_a_path_level() {
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let _ = sub_path(&(&root / "bert"), "attention.self.query").zeros("bias", &[1]);
        let _ = sub_path(&root, "sa_layer_norm").zeros("weight", &[1]);
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["bert.attention.self.query.bias", "sa_layer_norm.weight"]
        );
    }
}
