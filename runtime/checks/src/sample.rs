/// Compressible but not trivial test data (a third random, the rest a repeating word), the same
/// for the same `seed`. (Also compiled into build.rs, which deflates it.)
pub fn sample(len: usize, seed: u32) -> alloc::vec::Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            if i % 3000 < 1000 { (x >> 24) as u8 } else { b"ferrota"[i % 7] }
        })
        .collect()
}
