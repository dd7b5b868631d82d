//! Tensor data as clients send it: JSON numbers, flat or nested to any depth (serde_json's
//! recursion limit of 128 bounds it), or raw little-endian bytes (the KServe binary tensor
//! extension); checked against a declared datatype and converted to `f32`.
//!
//! Decisions, documented in the README: floating types (`FP16`, `BF16`, `FP32`, `FP64`) and
//! integer types (`INT8`..`INT64`, `UINT8`..`UINT64`) are accepted and converted to `f32`;
//! integer data must be whole numbers within the type's range. `BOOL` and `BYTES` are refused.
//! JSON has no NaN or infinity, but the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (and
//! `"inf"`, `"-inf"`, `"nan"`) are read as those values so that the answer is a clear 422
//! `invalid_value` rather than a schema error; so are finite numbers beyond the `f32` range.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use crate::error::{ApiError, ErrorKind};

/// Numbers from a JSON array, nested arrays flattened in row-major order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Numbers(pub Vec<f64>);

struct Append<'a>(&'a mut Vec<f64>);

impl<'de> DeserializeSeed<'de> for Append<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn special(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" | "-NaN" | "-nan" => Some(f64::NAN),
        "Infinity" | "inf" | "+inf" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

impl<'de> Visitor<'de> for Append<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or an array of numbers")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.push(v as f64);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.push(v as f64);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match special(v) {
            Some(x) => {
                self.0.push(x);
                Ok(())
            }
            None => Err(E::invalid_type(de::Unexpected::Str(v), &"a number")),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Append(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct Top;

impl<'de> Visitor<'de> for Top {
    type Value = Numbers;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of numbers (flat or nested)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Numbers, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while seq.next_element_seed(Append(&mut out))?.is_some() {}
        Ok(Numbers(out))
    }
}

impl<'de> serde::Deserialize<'de> for Numbers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(Top)
    }
}

/// A tensor element type as KServe names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datatype {
    /// Floating point of any width; values must fit `f32`.
    Float(FloatKind),
    /// Signed integer of `bits` bits.
    Int(u32),
    /// Unsigned integer of `bits` bits.
    Uint(u32),
}

/// The floating-point widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatKind {
    /// IEEE half.
    Fp16,
    /// bfloat16.
    Bf16,
    /// IEEE single.
    Fp32,
    /// IEEE double.
    Fp64,
}

impl Datatype {
    /// Parses a KServe datatype name.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        Ok(match s {
            "FP16" => Self::Float(FloatKind::Fp16),
            "BF16" => Self::Float(FloatKind::Bf16),
            "FP32" => Self::Float(FloatKind::Fp32),
            "FP64" => Self::Float(FloatKind::Fp64),
            "INT8" => Self::Int(8),
            "INT16" => Self::Int(16),
            "INT32" => Self::Int(32),
            "INT64" => Self::Int(64),
            "UINT8" => Self::Uint(8),
            "UINT16" => Self::Uint(16),
            "UINT32" => Self::Uint(32),
            "UINT64" => Self::Uint(64),
            other => {
                let shown: String = other.chars().take(32).collect();
                return Err(ApiError::new(
                    ErrorKind::InvalidDatatype,
                    format!(
                        "datatype {shown:?} is not accepted; send FP32 (or FP16, BF16, FP64, INT8..INT64, UINT8..UINT64)"
                    ),
                ));
            }
        })
    }

    /// Bytes per element in the binary tensor encoding.
    pub fn size(self) -> usize {
        match self {
            Self::Float(FloatKind::Fp16 | FloatKind::Bf16) => 2,
            Self::Float(FloatKind::Fp32) => 4,
            Self::Float(FloatKind::Fp64) => 8,
            Self::Int(b) | Self::Uint(b) => b as usize / 8,
        }
    }

    fn name(self) -> String {
        match self {
            Self::Float(k) => format!("{k:?}").to_uppercase(),
            Self::Int(b) => format!("INT{b}"),
            Self::Uint(b) => format!("UINT{b}"),
        }
    }

    /// Converts JSON numbers declared as this datatype to `f32`: integers must be whole and in
    /// range; floats must be finite in `f32` (else 422 `invalid_value`).
    pub fn to_f32(self, values: &[f64]) -> Result<Vec<f32>, ApiError> {
        let mut out = Vec::with_capacity(values.len());
        for (i, &v) in values.iter().enumerate() {
            out.push(self.one(i, v)?);
        }
        Ok(out)
    }

    fn one(self, i: usize, v: f64) -> Result<f32, ApiError> {
        let (lo, hi) = match self {
            Self::Float(_) => {
                let x = v as f32;
                if !x.is_finite() {
                    return Err(ApiError::new(
                        ErrorKind::InvalidValue,
                        format!("value {i} is {v}, which is not a finite FP32 number; inputs must be finite"),
                    ));
                }
                return Ok(x);
            }
            Self::Int(64) => (i64::MIN as f64, i64::MAX as f64),
            Self::Int(b) => (-(2f64.powi(b as i32 - 1)), 2f64.powi(b as i32 - 1) - 1.0),
            Self::Uint(64) => (0.0, u64::MAX as f64),
            Self::Uint(b) => (0.0, 2f64.powi(b as i32) - 1.0),
        };
        if v.fract() != 0.0 || !(lo..=hi).contains(&v) {
            return Err(ApiError::new(
                ErrorKind::InvalidDatatype,
                format!("value {i} ({v}) is not a valid {}", self.name()),
            ));
        }
        Ok(v as f32)
    }

    /// Decodes little-endian binary tensor data of this datatype to `f32`.
    pub fn from_le_bytes(self, b: &[u8]) -> Result<Vec<f32>, ApiError> {
        let n = self.size();
        if !b.len().is_multiple_of(n) {
            return Err(ApiError::new(
                ErrorKind::InvalidShape,
                format!("{} bytes is not a whole number of {} elements", b.len(), self.name()),
            ));
        }
        let c = b.chunks_exact(n);
        let vals: Vec<f64> = match self {
            Self::Float(FloatKind::Fp32) => {
                let v: Vec<f32> = c.map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]])).collect();
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(ApiError::new(
                        ErrorKind::InvalidValue,
                        format!("value {i} is {}; inputs must be finite", v[i]),
                    ));
                }
                return Ok(v);
            }
            Self::Float(FloatKind::Fp64) => c.map(|x| f64::from_le_bytes(x.try_into().unwrap_or([0; 8]))).collect(),
            Self::Float(FloatKind::Fp16) => c.map(|x| f16_to_f64(u16::from_le_bytes([x[0], x[1]]))).collect(),
            Self::Float(FloatKind::Bf16) => {
                c.map(|x| f32::from_bits((u16::from_le_bytes([x[0], x[1]]) as u32) << 16) as f64).collect()
            }
            Self::Int(8) => c.map(|x| x[0] as i8 as f64).collect(),
            Self::Int(16) => c.map(|x| i16::from_le_bytes([x[0], x[1]]) as f64).collect(),
            Self::Int(32) => c.map(|x| i32::from_le_bytes([x[0], x[1], x[2], x[3]]) as f64).collect(),
            Self::Int(_) => c.map(|x| i64::from_le_bytes(x.try_into().unwrap_or([0; 8])) as f64).collect(),
            Self::Uint(8) => c.map(|x| x[0] as f64).collect(),
            Self::Uint(16) => c.map(|x| u16::from_le_bytes([x[0], x[1]]) as f64).collect(),
            Self::Uint(32) => c.map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]) as f64).collect(),
            Self::Uint(_) => c.map(|x| u64::from_le_bytes(x.try_into().unwrap_or([0; 8])) as f64).collect(),
        };
        self.to_f32(&vals)
    }
}

/// IEEE half to f64 (exact).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Numbers, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn nested_arrays_flatten_row_major() {
        assert_eq!(parse("[[1, 2], [3, [4.5]]]").expect("ok").0, vec![1.0, 2.0, 3.0, 4.5]);
        assert_eq!(parse("[]").expect("ok").0, Vec::<f64>::new());
    }

    #[test]
    fn strings_other_than_nan_and_infinity_are_schema_errors() {
        assert!(parse("[\"NaN\", \"-Infinity\"]").expect("ok").0[0].is_nan());
        assert!(parse("[\"1.0\"]").is_err());
        assert!(parse("[true]").is_err());
        assert!(parse("[null]").is_err());
        assert!(parse("3").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn datatypes_check_ranges() {
        assert_eq!(Datatype::parse("UINT8").expect("ok").to_f32(&[0.0, 255.0]).expect("fits"), vec![0.0, 255.0]);
        assert_eq!(
            Datatype::parse("UINT8").expect("ok").to_f32(&[256.0]).expect_err("too big").kind,
            ErrorKind::InvalidDatatype
        );
        assert_eq!(
            Datatype::parse("INT8").expect("ok").to_f32(&[-129.0]).expect_err("too small").kind,
            ErrorKind::InvalidDatatype
        );
        assert_eq!(
            Datatype::parse("INT32").expect("ok").to_f32(&[1.5]).expect_err("fraction").kind,
            ErrorKind::InvalidDatatype
        );
        assert_eq!(
            Datatype::parse("FP32").expect("ok").to_f32(&[1e39]).expect_err("overflows f32").kind,
            ErrorKind::InvalidValue
        );
        assert_eq!(
            Datatype::parse("FP64").expect("ok").to_f32(&[f64::NAN]).expect_err("nan").kind,
            ErrorKind::InvalidValue
        );
        assert_eq!(Datatype::parse("BYTES").expect_err("refused").kind, ErrorKind::InvalidDatatype);
    }

    #[test]
    fn binary_decoding_matches_the_le_layout() {
        let b: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(Datatype::parse("FP32").expect("ok").from_le_bytes(&b).expect("ok"), vec![1.5, -2.0]);
        // 1.0 in IEEE half is 0x3c00; -2.0 is 0xc000.
        assert_eq!(
            Datatype::parse("FP16").expect("ok").from_le_bytes(&[0x00, 0x3c, 0x00, 0xc0]).expect("ok"),
            vec![1.0, -2.0]
        );
        assert!(Datatype::parse("FP32").expect("ok").from_le_bytes(&[0; 3]).is_err());
    }
}
