//! Reading PostgreSQL's `COPY … TO STDOUT (FORMAT binary)`: a signature and
//! header, then per row a 16-bit field count and per field a 32-bit length
//! (−1 for NULL) and the value in the type's binary form; a count of −1 ends
//! it (PostgreSQL manual, "COPY", Binary Format). The export selects only
//! `BIGINT` and `TEXT`, whose binary forms are 8 bytes big-endian and the
//! UTF-8 bytes. The stream's chunks need not end at a row's end: bytes wait
//! here until their row is whole.

use std::ops::Range;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// The bytes received and not yet read.
#[derive(Default)]
pub(crate) struct BinaryTuples {
    buf: Vec<u8>,
    /// Where the next row starts.
    pos: usize,
    header_read: bool,
    ended: bool,
}

fn be_i16(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[0], b[1]])
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl BinaryTuples {
    pub(crate) fn extend(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Drops the rows already read (keeps a row that is not whole yet).
    pub(crate) fn compact(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
    }

    /// The next whole row: `fields` gets each field's bytes (as a range of
    /// [`BinaryTuples::field`]) or `None` for NULL. `Ok(None)` when no whole
    /// row is here yet, or after the end.
    pub(crate) fn next(
        &mut self,
        fields: &mut Vec<Option<Range<usize>>>,
    ) -> Result<Option<()>, String> {
        if self.ended {
            return Ok(None);
        }
        if !self.header_read {
            // Signature, flags, and the header extension's length and bytes.
            let fixed = SIGNATURE.len() + 8;
            if self.buf.len() < self.pos + fixed {
                return Ok(None);
            }
            let header = &self.buf[self.pos..];
            if &header[..SIGNATURE.len()] != SIGNATURE {
                return Err("COPY の形式が binary ではありません".into());
            }
            let extension = be_i32(&header[SIGNATURE.len() + 4..]);
            let extension = usize::try_from(extension)
                .map_err(|_| "COPY の見出しが壊れています".to_string())?;
            if self.buf.len() < self.pos + fixed + extension {
                return Ok(None);
            }
            self.pos += fixed + extension;
            self.header_read = true;
        }
        let mut at = self.pos;
        let Some(count) = self.buf.get(at..at + 2).map(be_i16) else {
            return Ok(None);
        };
        at += 2;
        if count == -1 {
            self.ended = true;
            self.pos = at;
            return Ok(None);
        }
        let count =
            usize::try_from(count).map_err(|_| format!("COPY の列数 {count} が読めません"))?;
        fields.clear();
        for _ in 0..count {
            let Some(len) = self.buf.get(at..at + 4).map(be_i32) else {
                return Ok(None);
            };
            at += 4;
            if len == -1 {
                fields.push(None);
                continue;
            }
            if len < 0 {
                return Err(format!("COPY の値の長さ {len} が読めません"));
            }
            let end = at + len as usize;
            if self.buf.len() < end {
                return Ok(None);
            }
            fields.push(Some(at..end));
            at = end;
        }
        self.pos = at;
        Ok(Some(()))
    }

    /// Whether the stream ended with its trailer and nothing after it.
    pub(crate) fn complete(&self) -> bool {
        self.ended && self.pos == self.buf.len()
    }

    /// A field's bytes as [`BinaryTuples::next`] found them.
    pub(crate) fn field(&self, range: Option<&Range<usize>>) -> Option<&[u8]> {
        range.and_then(|r| self.buf.get(r.clone()))
    }
}

/// A `BIGINT` field.
pub(crate) fn binary_int(field: Option<&[u8]>) -> Result<Option<i64>, String> {
    match field {
        None => Ok(None),
        Some(b) => <[u8; 8]>::try_from(b)
            .map(|b| Some(i64::from_be_bytes(b)))
            .map_err(|_| format!("COPY の整数が {} バイトです（8 バイトのはず）", b.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A COPY stream of `rows` as PostgreSQL writes it.
    fn stream(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&4i32.to_be_bytes());
        out.extend_from_slice(b"abcd"); // a header extension, skipped
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for f in row {
                match f {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        out.extend_from_slice(b);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn read_all(bytes: &[u8], chunk: usize) -> Vec<(Option<i64>, Option<String>)> {
        let mut tuples = BinaryTuples::default();
        let mut fields = Vec::new();
        let mut out = Vec::new();
        for c in bytes.chunks(chunk) {
            tuples.extend(c);
            while tuples.next(&mut fields).unwrap().is_some() {
                let n = binary_int(tuples.field(fields[0].as_ref())).unwrap();
                let t = tuples
                    .field(fields[1].as_ref())
                    .map(|b| String::from_utf8(b.to_vec()).unwrap());
                out.push((n, t));
            }
            tuples.compact();
        }
        out
    }

    #[test]
    fn rows_are_read_whatever_the_chunks() {
        let seven = 7i64.to_be_bytes();
        let big = (-5_000_000_000i64).to_be_bytes();
        let bytes = stream(&[
            vec![Some(&seven), Some("山田".as_bytes())],
            vec![None, Some(b"")],
            vec![Some(&big), None],
        ]);
        let expected = vec![
            (Some(7), Some("山田".to_string())),
            (None, Some(String::new())),
            (Some(-5_000_000_000), None),
        ];
        for chunk in [1, 2, 3, 7, 19, bytes.len()] {
            assert_eq!(read_all(&bytes, chunk), expected, "chunks of {chunk}");
        }
        // A stream cut short is not complete.
        let mut cut = BinaryTuples::default();
        cut.extend(&bytes[..bytes.len() - 3]);
        while cut.next(&mut Vec::new()).unwrap().is_some() {}
        assert!(!cut.complete());
        let mut whole = BinaryTuples::default();
        whole.extend(&bytes);
        while whole.next(&mut Vec::new()).unwrap().is_some() {}
        assert!(whole.complete());
    }

    #[test]
    fn what_is_not_binary_copy_is_refused() {
        let mut tuples = BinaryTuples::default();
        tuples.extend(b"1\t2\n3\t4\n5\t6\n7\t8\n9\t0\n");
        assert!(tuples.next(&mut Vec::new()).is_err());
        assert!(binary_int(Some(&[0, 1])).is_err());
        // A length below −1 (NULL) is refused, not read as NULL.
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&1i16.to_be_bytes());
        bytes.extend_from_slice(&(-2i32).to_be_bytes());
        let mut tuples = BinaryTuples::default();
        tuples.extend(&bytes);
        assert!(tuples.next(&mut Vec::new()).is_err());
    }
}
