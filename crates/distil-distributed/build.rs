//! Compiles the c10d shim against the headers of the libtorch that torch-sys links, plus the
//! Gloo headers (Debian's `libgloo-dev`; the torch wheel ships none).

use std::env;
use std::path::{Path, PathBuf};

const SHIM: &str = "shim/c10d_shim.cpp";

fn main() {
    println!("cargo:rerun-if-changed={SHIM}");
    println!("cargo:rerun-if-env-changed=GLOO_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let Ok(lib) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report its libtorch directory (DEP_TCH_LIBTORCH_LIB)");
    };
    let include = Path::new(&lib).join("..").join("include");
    let gloo = env::var("GLOO_INCLUDE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/include"));
    if !gloo.join("gloo").join("context.h").is_file() {
        panic!(
            "the Gloo headers are missing ({}/gloo/context.h): install them with \
             `apt-get install -y libgloo-dev` (scripts/setup.sh does it) or point \
             GLOO_INCLUDE_DIR at a directory holding gloo/",
            gloo.display()
        );
    }
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .pic(true)
        .warnings(false)
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .define("USE_DISTRIBUTED", None)
        .define("USE_C10D_GLOO", None)
        .include(&include)
        .include(
            include
                .join("torch")
                .join("csrc")
                .join("api")
                .join("include"),
        )
        .include(&gloo)
        .file(SHIM);
    if env::var_os("CARGO_FEATURE_NCCL").is_some() {
        build.define("USE_C10D_NCCL", None).define("USE_CUDA", None);
        for dir in cuda_includes(Path::new(&lib)) {
            build.include(dir);
        }
    }
    build.compile("distil_c10d_shim");
    // For `distil env`: where this build found Gloo's headers.
    println!("cargo:rustc-env=DISTIL_GLOO_INCLUDE_DIR={}", gloo.display());
}

/// CUDA and NCCL headers: `$CUDA_HOME/include`, else the `nvidia-*` wheels next to torch.
fn cuda_includes(torch_lib: &Path) -> Vec<PathBuf> {
    if let Ok(home) = env::var("CUDA_HOME") {
        return vec![Path::new(&home).join("include")];
    }
    let nvidia = torch_lib.join("..").join("..").join("nvidia");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&nvidia)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("include"))
        .filter(|dir| dir.is_dir())
        .collect();
    dirs.sort();
    dirs
}
