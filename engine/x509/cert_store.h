#pragma once
// The certificate and key store under --ipsecdir (libreswan's /etc/ipsec.d):
// certs/, cacerts/, crls/, private/, aacerts/, acerts/ and policies/. It is
// what `ipsec auto --listcerts|--listcacerts|--listcrls|--listpubkeys|
// --checkpubkeys|--listgroups|--reread*|--purgeocsp` shows. Everything is read
// from disk at open() and again at reload(); readers on other threads see the
// old or the new state, never a mix. OpenSSL stays inside cert_store.cpp but for the
// peer's key (crypto::SignatureKey).
// Formats, limits and what is checked: docs/certs.md.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/crypto/signature.h"
#include "model/connection.h"
#include "model/result.h"

namespace ipsecd::engine::x509 {

using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

inline constexpr std::string_view kDefaultIpsecDir = "/etc/ipsec.d";
// A file larger than this is refused (a CRL of ~30 000 serials fits).
inline constexpr size_t kMaxCertFileBytes = size_t{1} << 20;
// Files read per directory, the first ones by name; the rest are reported.
inline constexpr size_t kMaxCertFiles = 10000;

enum class CertKind : uint8_t { kCerts, kCaCerts, kCrls, kACerts, kAaCerts, kPubkeys };
inline constexpr std::array<CertKind, 6> kAllCertKinds = {CertKind::kCerts,   CertKind::kCaCerts,
                                                          CertKind::kCrls,    CertKind::kACerts,
                                                          CertKind::kAaCerts, CertKind::kPubkeys};
// "certs", "cacerts", "crls", "acerts", "aacerts", "pubkeys"
std::string_view cert_kind_name(CertKind kind);
std::optional<CertKind> parse_cert_kind(std::string_view text);

struct CertItem {
  std::string file;     // name inside the kind's directory
  std::string format;   // "PEM" or "DER"
  std::string subject;  // "C=CA, O=Example, CN=west" (libreswan's DN spelling)
  std::string issuer;
  std::string serial;  // uppercase hex, as `openssl x509 -serial`
  WallTime not_before{};
  WallTime not_after{};
  std::string key_type;                        // "RSA 3072", "EC P-256", "Ed25519"
  std::string fingerprint_sha256;              // "AB:CD:..."
  bool is_ca = false;                          // basicConstraints cA
  std::vector<std::string> subject_alt_names;  // "DNS:x", "IP:192.0.2.1", "email:a@b"
  bool has_private_key = false;                // private/ holds a key with this public key
};

struct RevokedSerial {
  std::string serial;  // same spelling as CertItem::serial
  WallTime revoked_at{};
};

struct CrlItem {
  std::string file;
  std::string format;
  std::string issuer;
  WallTime this_update{};
  std::optional<WallTime> next_update;
  std::vector<RevokedSerial> revoked;
  bool verified = false;     // signed by a CA certificate in cacerts/ (or aacerts/)
  std::string verify_error;  // why not, "" when verified
};

// A public key a connection authenticates a side with.
struct PubkeyItem {
  std::string connection;
  std::string side;      // "left", "right"
  std::string id;        // leftid=, else the certificate subject or the address
  std::string key_type;  // "RSA", "EC P-256", "Ed25519"
  int bits = 0;
  // libreswan's key id: RSA keys the first 9 base64 characters of the RFC 3110
  // key (what `ipsec showhostkey` and --listpubkeys print, "AwEAAb..."),
  // other keys the first 9 base64 characters of their CKAID (SHA-1 of the
  // public point), as libreswan forms it for ECDSA and EdDSA.
  std::string key_id;
  std::string source;  // "rsasigkey" (leftrsasigkey=/leftpubkey=) or "cert" (leftcert=)
};

struct CertListing {
  CertKind kind = CertKind::kCerts;
  std::string directory;            // the directory read (pubkeys: the certs/ directory)
  std::vector<CertItem> certs;      // certs, cacerts, acerts, aacerts
  std::vector<CrlItem> crls;        // crls
  std::vector<PubkeyItem> pubkeys;  // pubkeys
  std::vector<std::string> errors;  // "certs/x.pem: why", "conn west: leftrsasigkey: why"
};

enum class CertStatus : uint8_t { kOk, kExpiring, kExpired, kInvalid };
std::string_view cert_status_name(CertStatus status);  // "ok", "expiring", "expired", "invalid"

struct CertCheckItem {
  CertKind kind = CertKind::kCerts;
  std::string name;                   // file name inside the kind's directory
  std::optional<WallTime> not_after;  // CRLs: nextUpdate
  CertStatus status = CertStatus::kOk;
  std::string message;
};

struct CertCheck {
  Duration window{};
  std::vector<CertCheckItem> items;  // by kind, then name
};

// One policy group: ipsecdir/policies/NAME, one CIDR or address per line.
struct PolicyGroup {
  std::string name;  // "block", "clear", "clear-or-private", "private", "private-or-clear"
  std::string file;
  std::vector<std::string> entries;  // canonical spelling, "198.51.100.0/24"
  std::vector<std::string> errors;   // "FILE:LINE: why"
};
inline constexpr std::array<std::string_view, 5> kPolicyGroupNames = {
    "block", "clear", "clear-or-private", "private", "private-or-clear"};

// What a leftrsasigkey=/leftpubkey= value holds, without its connection.
struct PublicKeySummary {
  std::string key_type;
  int bits = 0;
  std::string key_id;
};
// "0s" base64 or "0x" hex of an RFC 3110 RSA key (libreswan's form); for
// pubkey= also a DER SubjectPublicKeyInfo in the same encodings. Bad input
// fails with what is wrong.
model::Result<PublicKeySummary> parse_pubkey_value(std::string_view value);

// Parses a policy group file's text; `file` names it in errors.
PolicyGroup parse_policy_group(std::string_view name, std::string_view file, std::string_view text);

// A peer's certificate after validate_peer(): what the ID match and AUTH need.
struct PeerCertificate {
  crypto::SignatureKey key;  // the end certificate's public key
  std::string subject;       // libreswan's DN spelling, as CertItem::subject
  std::string issuer;
  std::string serial;
  std::vector<std::string> subject_alt_names;  // as CertItem's
  WallTime not_after{};
  std::vector<std::string> chain;  // subjects from the end certificate to the trust anchor
};

// Whether a validated certificate proves `id`, as libreswan matches them: a DN against
// the subject (or a DirName subjectAltName), RDN by RDN in any order, types
// case-insensitive, values case-insensitive once RFC 4514 escapes are decoded; an FQDN,
// user FQDN or address against a subjectAltName of that type; %any and %fromcert against
// anything. A configured ID (rightid=) may use libreswan's RDN aliases and `*` for any
// value; the peer's ID payload is taken as it is. Answers what matched ("subject",
// "DNS:east.example") or why nothing does.
enum class IdOrigin : uint8_t { kConfigured, kPeer };
model::Result<std::string> match_identity(const PeerCertificate& cert, const model::Identity& id,
                                          IdOrigin origin);

// Our own credential for IKE AUTH: the certificate leftcert= names, its private key from
// private/, and the CA certificates from cacerts/ between it and its root, for CERT
// payloads.
struct OwnCredential {
  crypto::SignatureKey key;                // the private key
  std::string certificate;                 // DER
  std::vector<std::string> intermediates;  // DER, the issuer first; never the self-signed root
  std::string subject;
  std::vector<std::string> subject_alt_names;
  WallTime not_after{};
};

// At most this many certificates of a peer are read (CERT payloads): the end
// certificate and its intermediates.
inline constexpr size_t kMaxPeerCertificates = 8;

class CertStore {
 public:
  // Reads everything under `ipsecdir`. A missing ipsecdir or subdirectory is
  // an empty one (ipsec.d rarely has all of them); fails only when ipsecdir
  // exists and is not a readable directory. Bad files are per-file errors.
  static model::Result<std::unique_ptr<CertStore>> open(std::string ipsecdir);
  // Only open() can name the key: a store always starts read from disk.
  class OpenKey {
    friend class CertStore;
    OpenKey() = default;
  };
  CertStore(OpenKey, std::string ipsecdir);
  ~CertStore();
  CertStore(const CertStore&) = delete;
  CertStore& operator=(const CertStore&) = delete;

  const std::string& ipsecdir() const { return ipsecdir_; }
  std::string directory(CertKind kind) const;

  // The listing of one kind. `connections` are read only for kPubkeys.
  CertListing listing(CertKind kind,
                      const std::vector<const model::Connection*>& connections = {}) const;
  CertListing pubkeys(const std::vector<const model::Connection*>& connections) const;

  // Reads one kind (nullopt: every kind, and the policy groups) from disk
  // again and swaps it in; answers the new listing of each kind reloaded.
  // Reloading certs also rereads private/; pubkeys rereads certs/.
  std::vector<CertListing> reload(std::optional<CertKind> kind,
                                  const std::vector<const model::Connection*>& connections = {});

  // Every certificate, CA certificate and CRL with its status at `now`:
  // expired, expiring within `window`, invalid (not yet valid, bad signature
  // from a CA in cacerts/, revoked by a verified CRL, unreadable) or ok.
  CertCheck check(Duration window, WallTime now) const;

  // Validates the certificates a peer sent (DER, its end certificate first, then any
  // intermediates) at `now`: a path to a CA of cacerts/ (RFC 5280, by OpenSSL), no
  // certificate on it revoked by a CRL of crls/ (an issuer without a CRL, or with a stale
  // one, is no refusal: libreswan's strictcrlpolicy=no), and an end certificate whose key
  // usage allows signatures and whose extended key usage, when it has one, allows IKE
  // (serverAuth, clientAuth, ipsecIKE or anyExtendedKeyUsage, as libreswan). The error
  // names the certificate and the reason: "certificate O=Example, CN=west: certificate
  // revoked (at 2026-12-01T10:00:00Z, keyCompromise, by crls/ca.crl)".
  model::Result<PeerCertificate> validate_peer(const std::vector<std::string>& der,
                                               WallTime now) const;

  // The credential for leftcert=NAME (certs/NAME, or with .pem, .crt, .der or .cer), or
  // why there is none: no such certificate, or no key in private/ whose public half is
  // the certificate's (an encrypted key is named: ipsecd reads no passphrases).
  model::Result<OwnCredential> own_credential(const std::string& leftcert) const;

  std::vector<PolicyGroup> groups() const;
  std::vector<PolicyGroup> reload_groups();

  // The OCSP response cache. ipsecd fetches no OCSP responses itself; code
  // that obtains one (e.g. stapled in IKE) adds it here. `der` must parse as
  // an OCSPResponse. A new response for the same key replaces the old one.
  model::Result<bool> add_ocsp_response(std::string key, std::string der);
  size_t ocsp_responses() const;
  // Drops every cached response; answers how many there were.
  size_t purge_ocsp();

 private:
  struct State;
  struct OcspCache;
  std::shared_ptr<const State> state() const;

  std::string ipsecdir_;
  mutable std::mutex mu_;  // guards state_ (the pointer, not what it points to)
  std::shared_ptr<const State> state_;
  std::mutex reload_mu_;  // one reload at a time, so none loses another's kind
  std::unique_ptr<OcspCache> ocsp_;
};

}  // namespace ipsecd::engine::x509
