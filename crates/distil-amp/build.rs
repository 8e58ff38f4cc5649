//! Compiles the AMP shim against the headers of the libtorch that torch-sys links. The CUDA
//! memory statistics live in `libc10_cuda`: when the libtorch is a CUDA build (the file is
//! there) and the CUDA runtime headers are found (`CUDA_HOME`, else the `nvidia-*` wheels next
//! to torch), the shim is built with `DISTIL_AMP_CUDA` and links `c10_cuda`; otherwise those
//! calls report that this build has no CUDA. Nothing else in the shim needs CUDA.

use std::env;
use std::path::{Path, PathBuf};

const SHIM: &str = "shim/amp_shim.cpp";

fn main() {
    println!("cargo:rerun-if-changed={SHIM}");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let Ok(lib) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report its libtorch directory (DEP_TCH_LIBTORCH_LIB)");
    };
    let lib = Path::new(&lib);
    let include = lib.join("..").join("include");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .pic(true)
        .warnings(false)
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .include(&include)
        .file(SHIM);
    let cuda_headers = cuda_runtime_includes(lib);
    let has_c10_cuda = lib.join("libc10_cuda.so").is_file();
    let with_cuda = has_c10_cuda && !cuda_headers.is_empty();
    if with_cuda {
        require_included_headers(&cuda_headers);
        build.define("DISTIL_AMP_CUDA", None);
        for dir in &cuda_headers {
            build.include(dir);
        }
    } else if has_c10_cuda {
        println!(
            "cargo:warning=distil-amp: libc10_cuda is present but no cuda_runtime_api.h was \
             found (set CUDA_HOME); CUDA memory statistics are left out of this build"
        );
    }
    build.compile("distil_amp_shim");
    // For `distil env`: the header folders this build compiled the CUDA path against.
    let found: Vec<String> = if with_cuda {
        cuda_headers
            .iter()
            .map(|d| d.canonicalize().unwrap_or_else(|_| d.clone()))
            .map(|d| d.display().to_string())
            .collect()
    } else {
        Vec::new()
    };
    println!(
        "cargo:rustc-env=DISTIL_AMP_CUDA_HEADERS={}",
        found.join(";")
    );
    if with_cuda {
        // After the static shim, so that the linker resolves its references.
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
}

/// `cuda_runtime.h` includes `crt/host_config.h` and `nv/target`, which the torch wheel does not
/// ship: the header wheels of the same CUDA release do. Without them the C++ compiler fails deep
/// in the CUDA headers, so say here which package is missing and how to install it.
fn require_included_headers(cuda_headers: &[PathBuf]) {
    let wanted = [
        ("crt/host_config.h", "nvidia-cuda-crt"),
        ("nv/target", "nvidia-cuda-cccl"),
    ];
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(header, _)| !cuda_headers.iter().any(|dir| dir.join(header).exists()))
        .map(|(header, package)| format!("{header} (package {package})"))
        .collect();
    if !missing.is_empty() {
        panic!(
            "distil-amp: the CUDA runtime headers in {} need {}, which are not installed: run \
             `scripts/setup.sh` (it installs the header wheels of torch's CUDA release), or set \
             CUDA_HOME to a CUDA toolkit",
            cuda_headers[0].display(),
            missing.join(" and ")
        );
    }
}

/// Folders holding `cuda_runtime_api.h`: `$CUDA_HOME/include`, else the `nvidia-*` wheels
/// next to torch (`nvidia/cu13/include`, `nvidia/cuda_runtime/include`, ...).
fn cuda_runtime_includes(torch_lib: &Path) -> Vec<PathBuf> {
    let candidates: Vec<PathBuf> = match env::var("CUDA_HOME") {
        Ok(home) => vec![Path::new(&home).join("include")],
        Err(_) => {
            let nvidia = torch_lib.join("..").join("..").join("nvidia");
            std::fs::read_dir(&nvidia)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path().join("include"))
                .collect()
        }
    };
    let mut dirs: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|dir| dir.join("cuda_runtime_api.h").is_file())
        .collect();
    dirs.sort();
    dirs
}
