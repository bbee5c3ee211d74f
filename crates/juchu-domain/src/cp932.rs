//! CP932 (Shift_JIS as Windows and Excel read it) by table: every character
//! of the Basic Multilingual Plane encoded once by `encoding_rs`, kept as a
//! 128 KiB table. `encoding_rs` looks a kanji up in its index each time; in a
//! CSV export of 200,000 orders that search was a third of the process's CPU.
//! The table is `encoding_rs`'s own answer per character, so the bytes are
//! the same (tested over the whole plane).

use std::sync::OnceLock;

/// Per BMP code point: `0` when CP932 cannot hold it, below `0x100` one
/// byte, otherwise two bytes (lead byte high). Only U+0000 encodes to `0x00`,
/// and ASCII never reaches the table.
fn table() -> &'static [u16; 0x10000] {
    static TABLE: OnceLock<Box<[u16; 0x10000]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([0u16; 0x10000]);
        let mut encoder = encoding_rs::SHIFT_JIS.new_encoder();
        let mut text = [0u8; 4];
        let mut out = [0u8; 4];
        for cp in 0x80u32..0x10000 {
            let Some(c) = char::from_u32(cp) else {
                continue; // surrogates
            };
            let (result, _, written) = encoder.encode_from_utf8_without_replacement(
                c.encode_utf8(&mut text),
                &mut out,
                true,
            );
            if result != encoding_rs::EncoderResult::InputEmpty {
                continue;
            }
            table[cp as usize] = match written {
                1 => u16::from(out[0]),
                2 => u16::from_be_bytes([out[0], out[1]]),
                _ => 0,
            };
        }
        table
    })
}

/// The CP932 bytes of `c` appended to `out`; `false` (nothing appended) when
/// CP932 cannot hold it.
pub fn push_char(c: char, out: &mut Vec<u8>) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        out.push(cp as u8);
        return true;
    }
    let Some(&code) = table().get(cp as usize) else {
        return false; // beyond the BMP: never in CP932
    };
    match code {
        0 => false,
        1..=0xff => {
            out.push(code as u8);
            true
        }
        _ => {
            out.extend_from_slice(&code.to_be_bytes());
            true
        }
    }
}

/// Appends `text` in CP932 to `out`, ASCII runs copied whole. Each character
/// CP932 cannot hold goes to `unmappable`, which may append a replacement or
/// stop the encoding with an error.
pub fn encode_into<E>(
    text: &str,
    out: &mut Vec<u8>,
    mut unmappable: impl FnMut(char, &mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    out.reserve(text.len());
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let ascii = bytes[at..]
            .iter()
            .position(|b| !b.is_ascii())
            .unwrap_or(bytes.len() - at);
        out.extend_from_slice(&bytes[at..at + ascii]);
        at += ascii;
        // `at` is at a character boundary: ASCII bytes are whole characters.
        if let Some(c) = text[at..].chars().next() {
            if !push_char(c, out) {
                unmappable(c, out)?;
            }
            at += c.len_utf8();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `encoding_rs` makes of `text`, unmappable characters as `?`.
    fn reference(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for c in text.chars() {
            let mut buf = [0u8; 4];
            let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
            if bad {
                out.push(b'?');
            } else {
                out.extend_from_slice(&bytes);
            }
        }
        out
    }

    fn ours(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(text, &mut out, |_, out| {
            out.push(b'?');
            Ok::<_, ()>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn every_character_of_the_plane_encodes_as_encoding_rs_does() {
        let plane: String = (0u32..0x10000).filter_map(char::from_u32).collect();
        assert_eq!(ours(&plane), reference(&plane));
        // The whole plane in one call too: encoding_rs's bulk path agrees
        // with its per-character answers (no state carries between them).
        let mappable: String = plane
            .chars()
            .filter(|c| {
                let mut buf = [0u8; 4];
                !encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf)).2
            })
            .collect();
        assert_eq!(
            ours(&mappable),
            &*encoding_rs::SHIFT_JIS.encode(&mappable).0
        );
    }

    #[test]
    fn characters_beyond_the_plane_and_mixed_text_are_handled() {
        let text = "ABC山田髙橋𠮷野家😀ｱｲｳ¥‾−〜\u{80}x";
        assert_eq!(ours(text), reference(text));
        assert_eq!(ours(""), b"");
        let mut out = Vec::new();
        let stopped = encode_into("ab😀cd", &mut out, |c, _| Err(c));
        assert_eq!(stopped, Err('😀'));
        assert_eq!(out, b"ab");
    }
}
