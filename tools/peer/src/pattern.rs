// SPDX-License-Identifier: GPL-2.0

//! The seeded data pattern: the 8 bytes at device offset `o` (a multiple of
//! 8) are `splitmix64(seed, o / 8)` little-endian, so any aligned range can
//! be generated and checked on its own.

fn word(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(index)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with the pattern of device bytes `offset..` (`offset` is a
/// multiple of 8).
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let base = offset / 8;
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let w = word(seed, base + i as u64).to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
}

/// The first byte of `got` that is not the pattern.
pub fn first_mismatch(seed: u64, offset: u64, got: &[u8]) -> Option<usize> {
    let base = offset / 8;
    for (i, chunk) in got.chunks(8).enumerate() {
        let w = word(seed, base + i as u64).to_le_bytes();
        if chunk != &w[..chunk.len()] {
            let j = chunk
                .iter()
                .zip(w.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Some(i * 8 + j);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_agree() {
        let mut whole = vec![0u8; 4096];
        fill(7, 8192, &mut whole);
        let mut part = vec![0u8; 512];
        fill(7, 8192 + 1024, &mut part);
        assert_eq!(&whole[1024..1536], &part[..]);
        assert_eq!(first_mismatch(7, 8192, &whole), None);
        whole[100] ^= 1;
        assert_eq!(first_mismatch(7, 8192, &whole), Some(100));
        assert_ne!(first_mismatch(8, 8192, &part), None);
    }
}
