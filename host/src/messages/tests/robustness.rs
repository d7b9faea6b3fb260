//! No input makes a verifier panic, and no corruption of a valid message
//! is accepted as a different message.

use super::*;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn telemetry_parts() -> (String, String, String, Vec<u8>) {
    let body = serde_json::to_vec(&telemetry_value()).expect("serializable");
    let ts = UnixSeconds::new(1_795_000_000).expect("in range");
    let n = "tlm-0001-7f3a9c";
    let sig = sign_telemetry(&example_key(), ts, &nonce(n), &body);
    (ts.to_string(), n.to_owned(), sig, body)
}

fn check_telemetry(t: &str, n: &str, s: &str, body: &[u8]) -> Result<Telemetry, MessageError> {
    let headers = TelemetryHeaders::parse(Some(t), Some(n), Some(s))?;
    verify_telemetry(&headers, body, &example_key().verifying_key())
}

#[test]
fn truncations_of_valid_messages_are_refused() {
    let (t, n, s, body) = telemetry_parts();
    for cut in 0..body.len() {
        assert!(
            check_telemetry(&t, &n, &s, &body[..cut]).is_err(),
            "body cut at {cut}"
        );
    }
    for cut in 0..s.len() {
        assert!(
            check_telemetry(&t, &n, &s[..cut], &body).is_err(),
            "signature cut at {cut}"
        );
    }
    for cut in 0..n.len() {
        assert!(
            check_telemetry(&t, &n[..cut], &s, &body).is_err(),
            "nonce cut at {cut}"
        );
    }
    for cut in 0..t.len() {
        assert!(
            check_telemetry(&t[..cut], &n, &s, &body).is_err(),
            "timestamp cut at {cut}"
        );
    }

    let ring = keyring();
    let feedback = sign_feedback(&example_key(), feedback_message())
        .expect("signs")
        .to_json();
    for cut in 0..feedback.len() {
        assert!(
            verify_feedback(&feedback[..cut], &ring, &identity("alpha")).is_err(),
            "{cut}"
        );
    }
    let response = sign_response(&example_key(), response_message())
        .expect("signs")
        .to_json();
    for cut in 0..response.len() {
        assert!(
            verify_response(&response[..cut], &ring, &identity("gateway")).is_err(),
            "{cut}"
        );
    }
    let manifest =
        sign_manifest_ml_dsa_65(&ml_dsa_key(), &kid("issuer-ml"), &manifest()).expect("signs");
    for cut in (0..manifest.len()).step_by(7) {
        assert!(verify_manifest(&manifest[..cut], &ring).is_err(), "{cut}");
    }
}

#[test]
fn single_byte_corruptions_never_yield_another_message() {
    let ring = keyring();
    let mut rng = Rng(0x5eed);
    let replacements = [b'0', b'A', b'"', b'{', b'.', b'|', b'=', b' ', 0xff];

    let (t, n, s, body) = telemetry_parts();
    let original = check_telemetry(&t, &n, &s, &body).expect("valid");
    for at in 0..body.len() {
        for &r in &replacements {
            let mut corrupted = body.clone();
            corrupted[at] = r;
            if let Ok(got) = check_telemetry(&t, &n, &s, &corrupted) {
                assert_eq!(got, original, "body byte {at} = {r}");
            }
        }
    }

    let alpha = identity("alpha");
    let feedback = sign_feedback(&example_key(), feedback_message())
        .expect("signs")
        .to_json();
    for at in 0..feedback.len() {
        let mut corrupted = feedback.clone();
        corrupted[at] = replacements[(rng.next() % replacements.len() as u64) as usize];
        if let Ok(got) = verify_feedback(&corrupted, &ring, &alpha) {
            assert_eq!(got, feedback_message(), "feedback byte {at}");
        }
    }

    let token = sign_manifest_eddsa(&example_key(), &kid("issuer-ed"), &manifest()).expect("signs");
    for at in 0..token.len() {
        for r in [b'A', b'Q', b'g', b'w', b'-', b'_', b'.', b'='] {
            let mut corrupted = token.clone().into_bytes();
            if corrupted[at] == r {
                continue;
            }
            corrupted[at] = r;
            let corrupted = String::from_utf8(corrupted).expect("ASCII");
            assert!(
                verify_manifest(&corrupted, &ring).is_err(),
                "token byte {at} = {r}"
            );
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let ring = keyring();
    let mut rng = Rng(0xdead_beef);
    let alpha = identity("alpha");
    let gateway = identity("gateway");
    let (t, n, s, _) = telemetry_parts();
    for round in 0..2000 {
        let len = (rng.next() % 300) as usize;
        let bytes = rng.bytes(len);
        let text = String::from_utf8_lossy(&bytes);
        assert!(Telemetry::parse(&bytes).is_err(), "{round}");
        assert!(check_telemetry(&t, &n, &s, &bytes).is_err(), "{round}");
        let _ = TelemetryHeaders::parse(Some(&text), Some(&text), Some(&text));
        assert!(verify_feedback(&bytes, &ring, &alpha).is_err(), "{round}");
        assert!(verify_response(&bytes, &ring, &gateway).is_err(), "{round}");
        assert!(verify_manifest(&text, &ring).is_err(), "{round}");
        // Random base64url parts, to get past the shape check.
        let part = |rng: &mut Rng| {
            let len = (rng.next() % 60) as usize;
            crate::messages::encoding::encode_url(&rng.bytes(len))
        };
        let token = format!("{}.{}.{}", part(&mut rng), part(&mut rng), part(&mut rng));
        assert!(verify_manifest(&token, &ring).is_err(), "{token}");
    }
}

#[test]
fn errors_never_quote_key_material() {
    let (t, n, s, mut body) = telemetry_parts();
    body[10] ^= 1;
    let err = check_telemetry(&t, &n, &s, &body).unwrap_err();
    let public = example_key().verifying_key().to_bytes();
    let seed_hex = EXAMPLE_SEED_HEX;
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(&s), "{text}");
        assert!(!text.contains(&hex::encode(public)), "{text}");
        assert!(!text.contains(seed_hex), "{text}");
    }
}
