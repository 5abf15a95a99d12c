"""TLS material made at start with the openssl CLI, laid out as Proxmox does:
a cluster CA (pve-root-ca.pem) that signed the node certificate (pve-ssl.pem).
A client can trust the CA file, or pin the node certificate's SHA-256
fingerprint (printed as 'AA:BB:...', the form Proxmox shows)."""

import base64
import hashlib
import os
import ssl
import subprocess


def _openssl(*args):
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def make_certificates(directory, node, hosts):
    """-> (ca_file, cert_file, key_file); hosts go into subjectAltName."""
    ca_key = os.path.join(directory, "pve-root-ca.key")
    ca_file = os.path.join(directory, "pve-root-ca.pem")
    key_file = os.path.join(directory, "pve-ssl.key")
    csr_file = os.path.join(directory, "pve-ssl.csr")
    cert_file = os.path.join(directory, "pve-ssl.pem")
    ext_file = os.path.join(directory, "pve-ssl.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_file, "-days", "30",
             "-subj", "/CN=Proxmox Virtual Environment/OU=pve-test-server/O=PVE Cluster Manager CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", *ec, "-keyout", key_file, "-out", csr_file,
             "-subj", f"/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN={node}")
    sans = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}"
                    for h in hosts)
    with open(ext_file, "w", encoding="ascii") as f:
        f.write(f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", csr_file, "-CA", ca_file, "-CAkey", ca_key,
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
             "-extfile", ext_file, "-out", cert_file)
    os.unlink(csr_file)
    return ca_file, cert_file, key_file


def fingerprint(cert_file):
    with open(cert_file, encoding="ascii") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def public_key_pin(cert_file):
    """curl's CURLOPT_PINNEDPUBLICKEY form: sha256// + base64(SHA-256 of the SPKI)."""
    pub = subprocess.run(["openssl", "x509", "-in", cert_file, "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def server_context(cert_file, key_file):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx
