//! The IDX format of MNIST and Fashion-MNIST (big-endian header, unsigned bytes), and loading
//! a four-file IDX set with md5 checks.

use std::path::Path;

use super::tools::{self, Algo};
use super::{DataError, Split};

/// File names of an IDX set, with their md5 (of the uncompressed file).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdxSet {
    pub train_images: (&'static str, &'static str),
    pub train_labels: (&'static str, &'static str),
    pub test_images: (&'static str, &'static str),
    pub test_labels: (&'static str, &'static str),
}

/// The standard file names shared by MNIST and Fashion-MNIST.
pub(crate) const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub(crate) const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub(crate) const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub(crate) const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

impl IdxSet {
    pub(crate) fn files(&self) -> [(&'static str, &'static str); 4] {
        [self.train_images, self.train_labels, self.test_images, self.test_labels]
    }
}

/// Parses an IDX file of unsigned bytes with `ndims` dimensions; returns the dimensions and
/// the payload. The header must agree with the file size exactly.
pub fn parse(bytes: &[u8], ndims: usize) -> Result<(Vec<usize>, &[u8]), String> {
    if bytes.len() < 4 {
        return Err(format!("{} bytes is too short for an IDX header (truncated)", bytes.len()));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!("bad IDX magic {:02x}{:02x}{:02x}{:02x}", bytes[0], bytes[1], bytes[2], bytes[3]));
    }
    if bytes[2] != 0x08 {
        return Err(format!("IDX data type 0x{:02x} is not unsigned byte (0x08)", bytes[2]));
    }
    if bytes[3] as usize != ndims {
        return Err(format!("IDX header has {} dimensions, expected {ndims}", bytes[3]));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(format!("{} bytes is too short for a {ndims}-d IDX header (truncated)", bytes.len()));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let payload = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let expected = payload.and_then(|p| p.checked_add(header));
    if expected != Some(bytes.len()) {
        return Err(format!(
            "IDX header says {dims:?} ({} bytes) but the file has {} bytes (truncated or corrupted)",
            expected.map_or_else(|| "overflowing".to_string(), |e| e.to_string()),
            bytes.len()
        ));
    }
    Ok((dims, &bytes[header..]))
}

/// Reads one file of the set: missing -> [`DataError::Missing`], bad header or size ->
/// [`DataError::Corrupt`], wrong md5 -> [`DataError::Checksum`].
fn read_checked(
    dataset: &'static str,
    dir: &Path,
    (name, md5): (&str, &str),
    ndims: usize,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let path = dir.join(name);
    if !path.is_file() {
        return Err(DataError::Missing { dataset, dir: dir.to_path_buf(), file: name.to_string() });
    }
    let bytes = tools::read(&path)?;
    let (dims, payload) =
        parse(&bytes, ndims).map_err(|reason| DataError::Corrupt { dataset, file: path.clone(), reason })?;
    let found = Algo::Md5.hex(&bytes);
    if found != md5 {
        return Err(DataError::Checksum { dataset, file: path, algo: "md5", expected: md5.to_string(), found });
    }
    Ok((dims, payload.to_vec()))
}

/// Loads the four files of `set` from `dir` as `(train, test)` splits of 28 x 28 images with
/// raw pixel values 0..255 and labels 0..9.
pub(crate) fn load_set(dataset: &'static str, dir: &Path, set: &IdxSet) -> Result<(Split, Split), DataError> {
    let split = |images, labels| -> Result<Split, DataError> {
        let (idims, pixels) = read_checked(dataset, dir, images, 3)?;
        let (ldims, y) = read_checked(dataset, dir, labels, 1)?;
        let corrupt = |reason: String| DataError::Corrupt { dataset, file: dir.join(labels.0), reason };
        if idims[1..] != [28, 28] {
            return Err(DataError::Corrupt {
                dataset,
                file: dir.join(images.0),
                reason: format!("images are {}x{}, expected 28x28", idims[1], idims[2]),
            });
        }
        if ldims[0] != idims[0] {
            return Err(corrupt(format!("{} labels for {} images", ldims[0], idims[0])));
        }
        if let Some(&bad) = y.iter().find(|&&l| l >= 10) {
            return Err(corrupt(format!("label {bad} is out of range 0..9")));
        }
        Ok(Split {
            x: pixels.iter().map(|&p| f32::from(p)).collect(),
            y: y.iter().map(|&l| u32::from(l)).collect(),
            features: 28 * 28,
        })
    };
    Ok((split(set.train_images, set.train_labels)?, split(set.test_images, set.test_labels)?))
}

/// Whether every file of `set` is in `dir` with the right md5.
pub(crate) fn cached(dir: &Path, set: &IdxSet) -> bool {
    set.files().iter().all(|&(name, md5)| tools::file_matches(&dir.join(name), Algo::Md5, md5))
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn idx(dims: &[u32], payload: usize) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend(std::iter::repeat_n(7u8, payload));
        b
    }

    #[test]
    fn parses_a_well_formed_file() {
        let b = idx(&[2, 3, 4], 24);
        let (dims, payload) = parse(&b, 3).expect("valid");
        assert_eq!(dims, vec![2, 3, 4]);
        assert_eq!(payload.len(), 24);
    }

    #[test]
    fn header_and_size_must_agree() {
        assert!(parse(&idx(&[2, 3, 4], 23), 3).is_err_and(|e| e.contains("truncated")));
        assert!(parse(&idx(&[2, 3, 4], 25), 3).is_err());
        assert!(parse(&idx(&[2, 3, 4], 24)[..10], 3).is_err());
        assert!(parse(&[0, 0], 1).is_err());
        assert!(parse(&idx(&[5], 5), 3).is_err(), "wrong number of dimensions");
        let mut b = idx(&[5], 5);
        b[2] = 0x0d; // float data
        assert!(parse(&b, 1).is_err());
        // Dimensions whose product overflows must not panic.
        assert!(parse(&idx(&[u32::MAX, u32::MAX, u32::MAX], 0), 3).is_err());
    }
}
