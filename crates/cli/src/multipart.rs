//! The `multipart/form-data` body of a module upload: a `manifest` part and a streamed `component` part.

use std::io::{self, Cursor, Read};

/// A two-part upload body whose component bytes are streamed from a reader.
///
/// The body is the text before the component (both part headers and the
/// manifest), the component, then the closing boundary; its length is known
/// up front so the request carries a `Content-Length`.
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    head: Vec<u8>,
    tail: Vec<u8>,
    component_len: u64,
}

impl Multipart {
    /// Lays out the body around a component of `component_len` bytes.
    /// `boundary` must not occur in the manifest or the component: use [`random_boundary`].
    pub fn new(boundary: &str, manifest_text: &str, component_file_name: &str, component_len: u64) -> Self {
        let mut head = String::new();
        head.push_str(&format!("--{boundary}\r\n"));
        head.push_str("Content-Disposition: form-data; name=\"manifest\"; filename=\"module.toml\"\r\n");
        head.push_str("Content-Type: application/toml\r\n\r\n");
        head.push_str(manifest_text);
        head.push_str(&format!("\r\n--{boundary}\r\n"));
        head.push_str(&format!(
            "Content-Disposition: form-data; name=\"component\"; filename=\"{}\"\r\n",
            quoted_file_name(component_file_name)
        ));
        head.push_str("Content-Type: application/wasm\r\n\r\n");
        let tail = format!("\r\n--{boundary}--\r\n");
        Self {
            boundary: boundary.to_owned(),
            head: head.into_bytes(),
            tail: tail.into_bytes(),
            component_len,
        }
    }

    /// The request's `Content-Type` header.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The whole body's length in bytes.
    pub fn content_length(&self) -> u64 {
        self.head.len() as u64 + self.component_len + self.tail.len() as u64
    }

    /// The body, reading the component from `component`. A component reader
    /// yielding a different number of bytes than announced is an error, so a
    /// file changing under the upload cannot send a malformed body.
    pub fn into_reader<R: Read>(self, component: R) -> impl Read {
        let exact = ExactReader {
            inner: component,
            remaining: self.component_len,
        };
        Cursor::new(self.head).chain(exact).chain(Cursor::new(self.tail))
    }
}

/// A boundary of `modhost-` and 32 random hex digits, or an error if the system has no randomness.
pub fn random_boundary() -> io::Result<String> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| io::Error::other(format!("no randomness available: {error}")))?;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!("modhost-{hex}"))
}

/// A file name safe inside a quoted header parameter.
fn quoted_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Passes exactly `remaining` bytes through, failing if the reader ends early or has more.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            let mut probe = [0_u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the component file grew while it was being uploaded",
                )),
            };
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = self.inner.read(&mut buf[..want])?;
        if read == 0 && want > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the component file shrank while it was being uploaded",
            ));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(multipart: Multipart, component: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        multipart.into_reader(component).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn lays_out_two_parts() {
        let component = b"\0asm\x0d\0\x01\0";
        let multipart = Multipart::new("BOUNDARY", "manifest_version = 1\n", "inventory.wasm", 8);
        assert_eq!(multipart.content_type(), "multipart/form-data; boundary=BOUNDARY");
        let length = multipart.content_length();
        let bytes = body(multipart, component).unwrap();
        let mut expected = b"--BOUNDARY\r\n\
Content-Disposition: form-data; name=\"manifest\"; filename=\"module.toml\"\r\n\
Content-Type: application/toml\r\n\
\r\n\
manifest_version = 1\n\r\n\
--BOUNDARY\r\n\
Content-Disposition: form-data; name=\"component\"; filename=\"inventory.wasm\"\r\n\
Content-Type: application/wasm\r\n\
\r\n"
            .to_vec();
        expected.extend_from_slice(component);
        expected.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(bytes, expected);
        assert_eq!(length, expected.len() as u64);
    }

    #[test]
    fn empty_component_still_has_both_parts() {
        let multipart = Multipart::new("b", "", "x.wasm", 0);
        let length = multipart.content_length();
        let bytes = body(multipart, b"").unwrap();
        assert_eq!(bytes.len() as u64, length);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("name=\"manifest\""));
        assert!(text.contains("name=\"component\""));
        assert!(text.ends_with("\r\n--b--\r\n"));
    }

    #[test]
    fn component_of_the_wrong_length_is_an_error() {
        let short = Multipart::new("b", "m", "x.wasm", 10);
        let error = body(short, b"12345").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let long = Multipart::new("b", "m", "x.wasm", 3);
        let error = body(long, b"12345").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn file_names_cannot_break_the_header() {
        let multipart = Multipart::new("b", "m", "we\"ird\r\nname.wasm", 0);
        let text = String::from_utf8(body(multipart, b"").unwrap()).unwrap();
        assert!(text.contains("filename=\"we_ird__name.wasm\""));
    }

    #[test]
    fn boundaries_are_random_and_token_safe() {
        let first = random_boundary().unwrap();
        let second = random_boundary().unwrap();
        assert_ne!(first, second);
        assert_eq!(first.len(), "modhost-".len() + 32);
        assert!(first.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
}
