//! Modules written in Python (`examples/python-hello`), built to components with a pinned componentize-py.
//!
//! `build-plugins` calls [`build_components`] beside the cargo build of the
//! plugins workspace; it returns each component by its module folder, and
//! `build_plugins` writes the output folder exactly as for a Rust module
//! (`target/modules/<id>@<version>/`, `component.sha256` filled in, the
//! registry's upload checks run on it).
//!
//! The tool lives in a virtual environment under `target/py-venv`, created
//! with the machine's Python 3 and reused while it holds the pinned
//! [`COMPONENTIZE_PY_VERSION`]. Each module's `*.py` files are copied to
//! `target/python/<name>/src/` first, so the interpreter's bytecode cache
//! never lands in the source tree; the component is rebuilt only when a
//! source file, a WIT file or the tool is newer than it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context as _, bail};

use crate::process;

/// The componentize-py release the Python modules are built with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// A module written in Python.
struct PythonModule {
    /// The name `build-plugins --package` accepts (the module id).
    name: &'static str,
    /// Its folder, relative to the repository root: `module.toml`, the Python
    /// files and `wit/` with the world it targets.
    dir: &'static str,
    /// The Python module implementing the world.
    app: &'static str,
    /// The world, built from `wit/v1.0.0` plus the module's own `wit/`.
    world: &'static str,
}

const PYTHON_MODULES: &[PythonModule] = &[PythonModule {
    name: "python-hello",
    dir: "examples/python-hello",
    app: "app",
    world: "modhost-examples:python-hello/python-hello",
}];

/// The released WIT package the Python modules' worlds use.
const HOST_WIT: &str = "wit/v1.0.0";

/// What to install when there is no usable Python.
const INSTALL_PYTHON: &str = "install Python 3.9 or newer with its venv module \
    (Debian/Ubuntu: `apt-get install python3 python3-venv`; Fedora: `dnf install python3`; \
    macOS: `brew install python`), or point MODHOST_PYTHON at a python3 binary";

/// Whether `name` is a Python module (not a package of the plugins workspace).
pub fn is_python_package(name: &str) -> bool {
    PYTHON_MODULES.iter().any(|module| module.name == name)
}

/// Builds the named Python modules (all of them when `names` is empty);
/// returns each component by its module folder.
pub fn build_components(root: &Path, names: &[String]) -> anyhow::Result<BTreeMap<PathBuf, PathBuf>> {
    let selected: Vec<&PythonModule> = PYTHON_MODULES
        .iter()
        .filter(|module| names.is_empty() || names.iter().any(|name| name == module.name))
        .collect();
    let mut components = BTreeMap::new();
    if selected.is_empty() {
        return Ok(components);
    }
    let tool = ensure_componentize_py(root)?;
    for module in selected {
        let component = build_one(root, &tool, module)
            .with_context(|| format!("could not build the Python module {}", module.dir))?;
        components.insert(root.join(module.dir), component);
    }
    Ok(components)
}

/// The folder of a virtual environment's executables.
fn venv_bin(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts")
    } else {
        venv.join("bin")
    }
}

fn executable(dir: &Path, name: &str) -> PathBuf {
    if cfg!(windows) {
        dir.join(format!("{name}.exe"))
    } else {
        dir.join(name)
    }
}

/// The pinned `componentize-py` in `target/py-venv`, creating the venv and
/// installing it when missing or at another version.
fn ensure_componentize_py(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target").join("py-venv");
    let bin = venv_bin(&venv);
    let tool = executable(&bin, "componentize-py");
    let wanted = format!("componentize-py {COMPONENTIZE_PY_VERSION}");
    if installed_version(&tool).as_deref() == Some(wanted.as_str()) {
        return Ok(tool);
    }
    let python = executable(&bin, "python");
    if !python.exists() {
        let system_python = find_python()?;
        let mut create = Command::new(&system_python);
        create.arg("-m").arg("venv").arg(&venv);
        process::run(create, root).with_context(|| {
            format!(
                "could not create a Python virtual environment in {}; {INSTALL_PYTHON}",
                venv.display()
            )
        })?;
    }
    let mut install = Command::new(&python);
    install
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet"])
        .arg(format!("componentize-py=={COMPONENTIZE_PY_VERSION}"));
    process::run(install, root).with_context(|| {
        format!(
            "could not install componentize-py {COMPONENTIZE_PY_VERSION} from PyPI into {}",
            venv.display()
        )
    })?;
    match installed_version(&tool) {
        Some(version) if version == wanted => Ok(tool),
        found => bail!(
            "{} reports {found:?} after installing, not `{wanted}`",
            tool.display()
        ),
    }
}

/// What `componentize-py --version` prints, if it runs.
fn installed_version(tool: &Path) -> Option<String> {
    let output = Command::new(tool).arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A Python 3.9+ on this machine: `MODHOST_PYTHON`, else `python3`, else `python`.
fn find_python() -> anyhow::Result<OsString> {
    let candidates: Vec<OsString> = match std::env::var_os("MODHOST_PYTHON") {
        Some(python) => vec![python],
        None => vec!["python3".into(), "python".into()],
    };
    for candidate in &candidates {
        let check = Command::new(candidate)
            .args([
                "-c",
                "import sys, venv; sys.exit(0 if sys.version_info >= (3, 9) else 1)",
            ])
            .output();
        if check.is_ok_and(|output| output.status.success()) {
            return Ok(candidate.clone());
        }
    }
    let tried: Vec<String> = candidates
        .iter()
        .map(|candidate| candidate.to_string_lossy().into_owned())
        .collect();
    bail!(
        "building the Python example module needs Python, and none of {tried:?} is a Python 3.9+ with venv; {INSTALL_PYTHON}"
    )
}

/// Builds one module to `target/python/<name>/<name>.wasm`, unless it is up to date.
fn build_one(root: &Path, tool: &Path, module: &PythonModule) -> anyhow::Result<PathBuf> {
    let source_dir = root.join(module.dir);
    let work = root.join("target").join("python").join(module.name);
    let staged = work.join("src");
    let component = work.join(format!("{}.wasm", module.name));
    let python_files = files_with_extension(&source_dir, "py")?;
    if python_files.is_empty() {
        bail!("{} has no .py files", source_dir.display());
    }
    let module_wit = source_dir.join("wit");
    let mut inputs = python_files.clone();
    inputs.extend(files_with_extension(&module_wit, "wit")?);
    inputs.extend(files_with_extension(&root.join(HOST_WIT), "wit")?);
    inputs.push(tool.to_path_buf());
    if is_newer_than_all(&component, &inputs) {
        eprintln!("xtask: {} is up to date", component.display());
        return Ok(component);
    }

    if staged.exists() {
        fs::remove_dir_all(&staged).with_context(|| format!("could not clear {}", staged.display()))?;
    }
    fs::create_dir_all(&staged).with_context(|| format!("could not create {}", staged.display()))?;
    for file in &python_files {
        let name = file.file_name().context("a Python file has no name")?;
        fs::copy(file, staged.join(name))
            .with_context(|| format!("could not copy {} to {}", file.display(), staged.display()))?;
    }
    let mut build = Command::new(tool);
    build
        .env_remove("VIRTUAL_ENV")
        .arg("-d")
        .arg(root.join(HOST_WIT))
        .arg("-d")
        .arg(&module_wit)
        .args(["-w", module.world, "componentize", "-p"])
        .arg(&staged)
        .arg(module.app)
        .arg("-o")
        .arg(&component);
    process::run(build, root)?;
    let size = fs::metadata(&component)
        .with_context(|| format!("componentize-py wrote no {}", component.display()))?
        .len();
    eprintln!(
        "xtask: {} is {size} bytes ({:.1} MiB)",
        component.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(component)
}

/// The files directly in `dir` ending in `.<extension>`, sorted; none if `dir` is absent.
fn files_with_extension(dir: &Path, extension: &str) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("could not list {}", dir.display()))?
            .path();
        if path.is_file() && path.extension().is_some_and(|found| found == extension) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `output` exists and was modified after every one of `inputs`.
fn is_newer_than_all(output: &Path, inputs: &[PathBuf]) -> bool {
    let modified = |path: &Path| -> Option<SystemTime> { fs::metadata(path).ok()?.modified().ok() };
    let Some(built) = modified(output) else {
        return false;
    };
    inputs
        .iter()
        .all(|input| modified(input).is_some_and(|changed| changed < built))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_modules_are_python() {
        assert!(is_python_package("python-hello"));
        assert!(!is_python_package("template"));
    }

    #[test]
    fn an_output_is_stale_when_missing_or_older_than_an_input() {
        let dir = tempfile::tempdir().expect("temp dir");
        let input = dir.path().join("app.py");
        let output = dir.path().join("app.wasm");
        fs::write(&input, "x = 1").expect("input");
        assert!(!is_newer_than_all(&output, std::slice::from_ref(&input)));
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&output, "wasm").expect("output");
        assert!(is_newer_than_all(&output, std::slice::from_ref(&input)));
        assert!(!is_newer_than_all(&output, &[dir.path().join("missing.py")]));
    }

    #[test]
    fn the_example_has_its_sources_and_world() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("repository root");
        for module in PYTHON_MODULES {
            let dir = root.join(module.dir);
            assert!(dir.join("module.toml").is_file(), "{}", module.dir);
            assert!(dir.join(format!("{}.py", module.app)).is_file(), "{}", module.dir);
            let wit = fs::read_to_string(dir.join("wit").join("world.wit")).expect("the module's world");
            let (package, world) = module.world.split_once('/').expect("package/world");
            assert!(wit.contains(&format!("package {package};")), "{}", module.dir);
            assert!(wit.contains(&format!("world {world} ")), "{}", module.dir);
        }
    }
}
