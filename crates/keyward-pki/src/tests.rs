use super::*;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ca() -> (CaKey, Vec<u8>) {
    let pk8 = KeyKind::EcP256.generate().unwrap();
    let key = CaKey::load(KeyKind::EcP256, &pk8).unwrap();
    let subject = CaSubject { common_name: "Example CA", organization: "Example" };
    let der = root_ca_certificate(&key, &subject, &random_serial().unwrap(), now(), 3650).unwrap();
    (key, der)
}

fn csr(email: &str, ca_flag: bool) -> (KeyPair, Vec<u8>) {
    let kp = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = vec![SanType::Rfc822Name(email.try_into().unwrap())];
    if ca_flag {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let der = p.serialize_request(&kp).unwrap().der().to_vec();
    (kp, der)
}

#[test]
fn issues_smime_certificates_that_ignore_requested_extensions() {
    let (key, ca_der) = ca();
    let ca = cert_info(&ca_der).unwrap();
    assert!(ca.is_ca);
    let (_, req) = csr("ann@example.org", true);
    let checked = check_csr(&req).unwrap();
    assert_eq!(checked.emails, vec!["ann@example.org".to_string()]);
    assert_eq!(checked.key_description, "ec-p256");
    let serial = random_serial().unwrap();
    let leaf = Leaf {
        email: "ann@example.org",
        name: "Ann",
        organization: "Example",
        usage: Usage::Signing,
        public_key: &checked.public_key,
        serial,
        not_before: now(),
        days: 365,
    };
    let der = issue(&ca_der, &key, &leaf).unwrap();
    let info = cert_info(&der).unwrap();
    assert!(!info.is_ca, "a CSR's CA:TRUE must not be copied");
    assert_eq!(info.serial, serial_hex(&serial));
    assert_eq!(info.emails, vec!["ann@example.org".to_string()]);
    assert_eq!(info.public_key, checked.public_key);
}

#[test]
fn refuses_tampered_and_foreign_csrs() {
    let (_, mut req) = csr("ann@example.org", false);
    let n = req.len();
    req[n - 5] ^= 1;
    assert!(check_csr(&req).is_err());
    assert!(check_csr(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n").is_err());
    assert!(check_csr(b"").is_err());
}

#[test]
fn pem_round_trip_and_serials() {
    let (_, req) = csr("a@b.c", false);
    let text = pem("CERTIFICATE REQUEST", &req);
    assert_eq!(pem_body(&text, "CERTIFICATE REQUEST").unwrap(), req);
    assert!(check_csr(text.as_bytes()).is_ok());
    assert_eq!(serial_hex(&[0, 0, 0x1f, 0xa0]), "1fa0");
    let s = random_serial().unwrap();
    assert_eq!(serial_hex(&s).len(), 32);
}

#[test]
fn crl_lists_revoked_serials() {
    let (key, ca_der) = ca();
    let serial = serial_hex(&random_serial().unwrap());
    let der = crl(
        &ca_der,
        &key,
        &[Revoked { serial: serial.clone(), at: now(), reason: 1 }],
        now(),
        now() + time::Duration::days(7),
        42,
    )
    .unwrap();
    let (_, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
    let listed: Vec<String> = parsed.iter_revoked_certificates().map(|r| serial_hex(r.raw_serial())).collect();
    assert_eq!(listed, vec![serial]);
}

#[test]
fn pkcs12_opens_with_its_password_only() {
    let (key, ca_der) = ca();
    let pk8 = KeyKind::Rsa2048.generate().unwrap();
    let spki = public_key_of(KeyKind::Rsa2048, &pk8).unwrap();
    let leaf = Leaf {
        email: "ann@example.org",
        name: "Ann",
        organization: "Example",
        usage: Usage::Encryption,
        public_key: &spki,
        serial: random_serial().unwrap(),
        not_before: now(),
        days: 365,
    };
    let cert = issue(&ca_der, &key, &leaf).unwrap();
    let p12 =
        pkcs12("pw", &[P12Entry { alias: "enc".into(), key_pkcs8: &pk8, cert_der: &cert }], &[ca_der], &[]).unwrap();
    let ks = p12_keystore::KeyStore::from_pkcs12(&p12, "pw", p12_keystore::Pkcs12ImportPolicy::Relaxed).unwrap();
    let (_, chain) = ks.private_key_chain().unwrap();
    assert_eq!(chain.key().as_der(), pk8.expose());
    assert_eq!(chain.certs().len(), 2);
    assert!(p12_keystore::KeyStore::from_pkcs12(&p12, "wrong", p12_keystore::Pkcs12ImportPolicy::Relaxed).is_err());
}

#[test]
fn imported_intermediate_must_certify_our_key() {
    let (root_key, root_der) = ca();
    let pk8 = KeyKind::EcP256.generate().unwrap();
    let key = CaKey::load(KeyKind::EcP256, &pk8).unwrap();
    let subject = CaSubject { common_name: "Int", organization: "Example" };
    let req = intermediate_csr(&key, &subject).unwrap();
    // The external root signs it (here: our own test root, as `openssl ca` would).
    let checked = check_csr(&req).unwrap();
    let issuer = Issuer::from_ca_cert_der(&root_der.as_slice().into(), &root_key.pair).unwrap();
    let mut p = ca_params(&subject, &random_serial().unwrap(), now(), 100).unwrap();
    p.use_authority_key_identifier_extension = true;
    let spki = rcgen::SubjectPublicKeyInfo::from_der(&checked.public_key).unwrap();
    let int_der = p.signed_by(&spki, &issuer).unwrap().der().to_vec();
    assert!(check_imported_ca(&int_der, &key, &root_der, now()).is_ok());
    // The root's own certificate does not certify the intermediate's key.
    assert!(check_imported_ca(&root_der, &key, &root_der, now()).is_err());
}
