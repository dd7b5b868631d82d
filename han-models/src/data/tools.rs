//! Helpers of the fetch: external tools, scratch directories, checksums, atomic writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use md5::Md5;
use sha2::{Digest, Sha256};

use super::DataError;

/// Hex md5 of `bytes`.
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a file, mapping errors to [`DataError::Io`].
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
}

/// Whether `path` holds exactly the bytes with this md5 or sha256 (`algo`).
pub(crate) fn file_matches(path: &Path, algo: Algo, expected: &str) -> bool {
    fs::read(path).map(|b| algo.hex(&b) == expected).unwrap_or(false)
}

/// A checksum algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algo {
    Md5,
    Sha256,
}

impl Algo {
    pub(crate) fn hex(self, bytes: &[u8]) -> String {
        match self {
            Algo::Md5 => md5_hex(bytes),
            Algo::Sha256 => sha256_hex(bytes),
        }
    }
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename, so that a reader never
/// sees a half-written file.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, DataError> {
    fs::create_dir_all(dir).map_err(|source| DataError::Io { path: dir.to_path_buf(), source })?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let path = dir.join(name);
    fs::write(&tmp, bytes).map_err(|source| DataError::Io { path: tmp.clone(), source })?;
    fs::rename(&tmp, &path).map_err(|source| DataError::Io { path: path.clone(), source })?;
    Ok(path)
}

/// A scratch directory inside the cache, removed when dropped.
#[derive(Debug)]
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(cache: &Path, what: &str) -> Result<Self, DataError> {
        let path = cache.join(format!(".fetch-{what}-{}", std::process::id()));
        if path.exists() {
            let _ = fs::remove_dir_all(&path);
        }
        fs::create_dir_all(&path).map_err(|source| DataError::Io { path: path.clone(), source })?;
        Ok(Self(path))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The command line of `cmd`, for messages.
fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last `n` lines of `bytes`, as text.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd` to completion with its output captured. A missing program gives
/// [`DataError::ToolMissing`] with `install_hint`; a non-zero exit gives
/// [`DataError::ToolFailed`] with the tail of its stderr (or stdout when stderr is empty).
pub(crate) fn run(cmd: &mut Command, install_hint: &str) -> Result<Output, DataError> {
    let command = describe(cmd);
    eprintln!("data fetch: $ {command}");
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::ToolMissing {
                tool: cmd.get_program().to_string_lossy().into_owned(),
                hint: install_hint.to_string(),
            }
        } else {
            DataError::ToolFailed {
                command: command.clone(),
                status: format!("could not start: {e}"),
                stderr_tail: String::new(),
            }
        }
    })?;
    if !out.status.success() {
        let stderr_tail = if out.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            tail(&out.stderr, 15)
        } else {
            tail(&out.stdout, 15)
        };
        return Err(DataError::ToolFailed { command, status: out.status.to_string(), stderr_tail });
    }
    Ok(out)
}

/// The regular files of a (ustar/pax) tar archive whose paths are in `wanted`, as
/// `(path, bytes)`. Only what `npm pack` writes is needed: plain files, pax headers skipped.
pub(crate) fn untar(tar: &[u8], wanted: &[String]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut found = Vec::new();
    let mut pos = 0usize;
    while pos + 512 <= tar.len() {
        let h = &tar[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let cstr = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        let name = cstr(&h[0..100]);
        let prefix = if &h[257..262] == b"ustar" { cstr(&h[345..500]) } else { String::new() };
        let path = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let size_field = cstr(&h[124..136]);
        let size = usize::from_str_radix(size_field.trim(), 8)
            .map_err(|_| format!("bad size field {size_field:?} at offset {pos}"))?;
        let start = pos + 512;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= tar.len())
            .ok_or_else(|| format!("member {path} claims {size} bytes but the archive ends first (truncated)"))?;
        let kind = h[156];
        if (kind == b'0' || kind == 0) && wanted.contains(&path) {
            found.push((path, tar[start..end].to_vec()));
        }
        pos = start + size.div_ceil(512) * 512;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_says_how_to_install_it() {
        let err = run(&mut Command::new("han-no-such-tool-0"), "install it with care").expect_err("missing");
        assert!(matches!(err, DataError::ToolMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("install it with care"));
    }

    #[test]
    fn a_failing_tool_reports_its_status_and_stderr_tail() {
        let err =
            run(Command::new("sh").args(["-c", "echo first >&2; echo last words >&2; exit 3"]), "").expect_err("fails");
        let msg = err.to_string();
        assert!(msg.contains("sh -c") && msg.contains("3") && msg.contains("last words"), "{msg}");
    }

    #[test]
    fn untar_finds_plain_members_and_rejects_truncation() {
        // A one-member ustar archive built by hand.
        let mut h = [0u8; 512];
        h[..13].copy_from_slice(b"package/a.bin");
        h[124..135].copy_from_slice(b"00000000005");
        h[156] = b'0';
        h[257..262].copy_from_slice(b"ustar");
        let mut tar = h.to_vec();
        tar.extend_from_slice(b"hello");
        tar.resize(1024 + 1024, 0);
        let want = vec!["package/a.bin".to_string()];
        let got = untar(&tar, &want).expect("valid");
        assert_eq!(got, vec![("package/a.bin".to_string(), b"hello".to_vec())]);
        assert!(untar(&tar[..515], &want).is_err());
    }
}
