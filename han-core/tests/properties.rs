//! Properties that follow from `H` being a reflection: the layer is 1-Lipschitz, `H H = I`,
//! and only the direction of `u` matters (not its length, not its sign).

mod common;

use candle_core::{Module, Result};
use common::*;
use han_core::HanLayer;
use rand::Rng;

fn layer(seed: u64, d: usize) -> Result<(HanLayer, Vec<f64>, Vec<f64>)> {
    let mut rng = rng(seed);
    let u = normal(&mut rng, d);
    let b = uniform(&mut rng, d, -1.0, 1.0);
    Ok((HanLayer::new(t64(&u, &[d])?, Some(t64(&b, &[d])?))?, u, b))
}

#[test]
fn one_lipschitz_over_ten_thousand_random_pairs() -> Result<()> {
    const PAIRS: usize = 10_000;
    let mut worst: f64 = 0.0;
    for (seed, d) in [(1u64, 3usize), (2, 17), (3, 64)] {
        let (l, _, _) = layer(seed, d)?;
        let mut rng = rng(seed + 100);
        // Pairs far apart and pairs close together (x' = x + eps v, eps log-uniform).
        let x = normal(&mut rng, PAIRS * d);
        let v = normal(&mut rng, PAIRS * d);
        let x2: Vec<f64> = x
            .chunks(d)
            .zip(v.chunks(d))
            .enumerate()
            .flat_map(|(k, (x, v))| {
                let eps = if k % 2 == 0 { 1.0 } else { 10f64.powf(rng.random_range(-6.0..0.0)) };
                x.iter().zip(v).map(move |(x, v)| x + eps * v).collect::<Vec<_>>()
            })
            .collect();
        let y = flat(&l.forward(&t64(&x, &[PAIRS, d])?)?)?;
        let y2 = flat(&l.forward(&t64(&x2, &[PAIRS, d])?)?)?;
        let mut tight: f64 = 0.0;
        for k in 0..PAIRS {
            let r = k * d..(k + 1) * d;
            let dx: Vec<f64> = x[r.clone()].iter().zip(&x2[r.clone()]).map(|(a, b)| a - b).collect();
            let dy: Vec<f64> = y[r.clone()].iter().zip(&y2[r]).map(|(a, b)| a - b).collect();
            let ratio = norm(&dy) / norm(&dx);
            assert!(ratio <= 1.0 + 1e-9, "d = {d}, pair {k}: |f(x) - f(x')| / |x - x'| = {ratio}");
            worst = worst.max(ratio);
            tight = tight.max(ratio);
        }
        // The bound is attained (isometry between kinks): the test could have failed.
        assert!(tight > 0.999_999, "d = {d}: largest ratio {tight}");
    }
    eprintln!("largest |f(x) - f(x')| / |x - x'| over all pairs: {worst}");
    Ok(())
}

#[test]
fn reflecting_twice_is_identity() -> Result<()> {
    for (seed, d) in [(10u64, 1usize), (11, 2), (12, 7), (13, 64), (14, 257)] {
        let (l, _, _) = layer(seed, d)?;
        let x = normal(&mut rng(seed + 1), 9 * d);
        let xt = t64(&x, &[9, d])?;
        let once = flat(&l.reflect(&xt)?)?;
        let twice = flat(&l.reflect(&l.reflect(&xt)?)?)?;
        assert!(rel_err(&twice, &x) < 1e-14, "d = {d}: H H x != x ({:e})", rel_err(&twice, &x));
        // H is an isometry, and not the identity (for d >= 2 some x moves; for d = 1, H = -1).
        assert!((norm(&once) - norm(&x)).abs() < 1e-13 * norm(&x));
        assert!(rel_err(&once, &x) > 1e-3, "d = {d}: H x == x");
    }
    // f32: the same within f32 rounding.
    let mut rng = rng(20);
    let d = 100;
    let u = normal(&mut rng, d);
    let x = normal(&mut rng, 4 * d);
    let l = HanLayer::new(t32(&u, &[d])?, None)?;
    let xt = t32(&x, &[4, d])?;
    let twice = flat(&l.reflect(&l.reflect(&xt)?)?)?;
    assert!(rel_err(&twice, &flat(&xt)?) < 1e-6);
    Ok(())
}

#[test]
fn scaling_u_changes_nothing() -> Result<()> {
    for (seed, d) in [(30u64, 1usize), (31, 7), (32, 64), (33, 257)] {
        let (l, u, b) = layer(seed, d)?;
        let x = normal(&mut rng(seed + 1), 6 * d);
        let xt = t64(&x, &[6, d])?;
        let want = flat(&l.forward(&xt)?)?;
        for alpha in [2.0, 1e3, 1e-3, -1.0, -7.5, -1e-4] {
            let scaled: Vec<f64> = u.iter().map(|v| alpha * v).collect();
            let ls = HanLayer::new(t64(&scaled, &[d])?, Some(t64(&b, &[d])?))?;
            for (what, got) in [
                ("fused", ls.forward_fused(&xt)?),
                ("composed", ls.forward_composed(&xt)?),
                ("reflect", ls.reflect(&xt)?.broadcast_add(&t64(&b, &[d])?)?.abs()?),
            ] {
                let e = rel_err(&flat(&got)?, &want);
                assert!(e < 1e-13, "d = {d}, u scaled by {alpha}, {what}: relative change {e:e}");
            }
        }
    }
    Ok(())
}
