#include "engine/x509/cert_store.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <utility>

#include "engine/crypto/openssl_ptr.h"
#include "model/files.h"
#include "model/text.h"
#include "model/values.h"

namespace ipsecd::engine::x509 {

namespace fs = std::filesystem;
using model::text::format_rfc3339;

// --- kinds and names ------------------------------------------------------------

std::string_view cert_kind_name(CertKind kind) {
  switch (kind) {
    case CertKind::kCerts:
      return "certs";
    case CertKind::kCaCerts:
      return "cacerts";
    case CertKind::kCrls:
      return "crls";
    case CertKind::kACerts:
      return "acerts";
    case CertKind::kAaCerts:
      return "aacerts";
    case CertKind::kPubkeys:
      return "pubkeys";
  }
  return "certs";
}

std::optional<CertKind> parse_cert_kind(std::string_view text) {
  for (CertKind kind : kAllCertKinds) {
    if (text == cert_kind_name(kind)) {
      return kind;
    }
  }
  return std::nullopt;
}

std::string_view cert_status_name(CertStatus status) {
  switch (status) {
    case CertStatus::kOk:
      return "ok";
    case CertStatus::kExpiring:
      return "expiring";
    case CertStatus::kExpired:
      return "expired";
    case CertStatus::kInvalid:
      return "invalid";
  }
  return "invalid";
}

namespace {

// --- OpenSSL handles ---------------------------------------------------------------

using crypto::OpenSslPtr;
using BioPtr = OpenSslPtr<BIO, BIO_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;
using CrlPtr = OpenSslPtr<X509_CRL, X509_CRL_free>;
using PkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using BnPtr = OpenSslPtr<BIGNUM, BN_free>;
using NamesPtr = OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using OcspPtr = OpenSslPtr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
void free_openssl_string(char* p) {
  OPENSSL_free(p);
}
using OsslString = OpenSslPtr<char, free_openssl_string>;

// Bytes that held key material: wiped when dropped.
class WipedBytes {
 public:
  explicit WipedBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  ~WipedBytes() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
  const std::string& get() const { return bytes_; }

 private:
  std::string bytes_;
};

// The reason of the newest OpenSSL error on this thread; clears the queue.
std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) {
    return "no further detail from OpenSSL";
  }
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(ERR_GET_REASON(e));
}

// Never prompts on a terminal: encrypted keys are reported, not unlocked.
int no_passphrase(char*, int, int, void* asked) {
  if (asked != nullptr) {
    *static_cast<bool*>(asked) = true;
  }
  return -1;
}

BioPtr memory_bio(std::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

bool looks_pem(std::string_view bytes) {
  return bytes.find("-----BEGIN ") != std::string_view::npos;
}

// --- text helpers --------------------------------------------------------------------

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (bytes.size() - i == 1) {
    uint32_t v = at(i) << 16;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string colon_hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    if (i > 0) {
      out += ':';
    }
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

using model::text::lower;

// --- certificate fields -----------------------------------------------------------------

// "C=CA, O=Example, CN=west": libreswan's order and separators, UTF-8 kept.
std::string name_text(const X509_NAME* name) {
  if (name == nullptr) {
    return "";
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  unsigned long flags = (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV & ~XN_FLAG_SEP_MASK &
                         ~static_cast<unsigned long>(ASN1_STRFLGS_ESC_MSB)) |
                        XN_FLAG_SEP_CPLUS_SPC;
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

std::optional<WallTime> asn1_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return WallTime(std::chrono::seconds(::timegm(&tm)));
}

std::string serial_text(const ASN1_INTEGER* serial) {
  BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) {
    ERR_clear_error();
    return "";
  }
  OsslString hex(BN_bn2hex(bn.get()));
  return hex ? std::string(hex.get()) : std::string();
}

// "P-256" for the NIST curves, OpenSSL's name for the others.
std::string curve_name(const EVP_PKEY* key) {
  char name[80] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1) {
    ERR_clear_error();
    return "unknown curve";
  }
  int nid = OBJ_txt2nid(name);
  const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
  return nist != nullptr ? nist : name;
}

// "RSA", "EC P-256", "Ed25519".
std::string key_family(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_RSA_PSS:
      return "RSA-PSS";
    case EVP_PKEY_EC:
      return "EC " + curve_name(key);
    case EVP_PKEY_ED25519:
      return "Ed25519";
    case EVP_PKEY_ED448:
      return "Ed448";
    default:
      break;
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  return name != nullptr ? name : "unknown";
}

// "RSA 3072" (size for RSA), "EC P-256", "Ed25519".
std::string key_type_text(const EVP_PKEY* key) {
  int id = EVP_PKEY_get_base_id(key);
  std::string family = key_family(key);
  if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
    family += " " + std::to_string(EVP_PKEY_get_bits(key));
  }
  return family;
}

std::string spki_der(const EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_PUBKEY(key, &p);
  return out;
}

std::string bn_bytes(const BIGNUM* bn) {
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

// libreswan's RFC 3110 encoding: exponent length (1 byte, or 0 and 2 bytes),
// exponent, modulus.
std::string rfc3110_blob(const std::string& e, const std::string& n) {
  std::string out;
  if (e.size() <= 255) {
    out += static_cast<char>(e.size());
  } else {
    out += '\0';
    out += static_cast<char>((e.size() >> 8) & 0xff);
    out += static_cast<char>(e.size() & 0xff);
  }
  return out + e + n;
}

std::string keyid_of_blob(std::string_view blob) {
  return base64(blob).substr(0, 9);
}

// libreswan's key id of any public key (see PubkeyItem::key_id).
std::string key_id_of(const EVP_PKEY* key) {
  int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
    BnPtr n_owned(n);
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
    BnPtr e_owned(e);
    if (!n_owned || !e_owned) {
      ERR_clear_error();
      return "";
    }
    return keyid_of_blob(rfc3110_blob(bn_bytes(e), bn_bytes(n)));
  }
  unsigned char point[1024];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
                                      &len) != 1) {
    ERR_clear_error();
    return "";
  }
  unsigned char ckaid[SHA_DIGEST_LENGTH];
  SHA1(point, len, ckaid);
  return keyid_of_blob(std::string_view(reinterpret_cast<char*>(ckaid), sizeof(ckaid)));
}

std::string asn1_string_text(const ASN1_STRING* s) {
  if (s == nullptr) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::vector<std::string> subject_alt_names(X509* cert) {
  std::vector<std::string> out;
  NamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  if (!names) {
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    switch (g->type) {
      case GEN_DNS:
        out.push_back("DNS:" + asn1_string_text(g->d.dNSName));
        break;
      case GEN_EMAIL:
        out.push_back("email:" + asn1_string_text(g->d.rfc822Name));
        break;
      case GEN_URI:
        out.push_back("URI:" + asn1_string_text(g->d.uniformResourceIdentifier));
        break;
      case GEN_IPADD: {
        std::string raw = asn1_string_text(g->d.iPAddress);
        char text[INET6_ADDRSTRLEN] = {};
        int family = raw.size() == 4 ? AF_INET : raw.size() == 16 ? AF_INET6 : 0;
        if (family != 0 && ::inet_ntop(family, raw.data(), text, sizeof(text)) != nullptr) {
          out.push_back(std::string("IP:") + text);
        } else {
          out.push_back("IP:<" + std::to_string(raw.size()) + " bytes, not an address>");
        }
        break;
      }
      case GEN_DIRNAME:
        out.push_back("DirName:" + name_text(g->d.directoryName));
        break;
      default:
        out.push_back("othername:<not shown>");
        break;
    }
  }
  return out;
}

// --- reading files -------------------------------------------------------------------------

struct FileError {
  std::string file;  // name inside the directory; "" for the directory itself
  std::string why;
};

struct DirScan {
  std::vector<std::string> names;  // regular files, sorted
  std::vector<FileError> errors;
};

DirScan scan_directory(const std::string& dir) {
  DirScan scan;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return scan;  // an absent kind is an empty one
  }
  if (!fs::is_directory(dir, ec)) {
    scan.errors.push_back({"", "is not a directory"});
    return scan;
  }
  fs::directory_iterator it(dir, ec);
  if (ec) {
    scan.errors.push_back({"", "cannot list the directory: " + ec.message()});
    return scan;
  }
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      scan.errors.push_back({"", "cannot list the directory: " + ec.message()});
      break;
    }
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') {
      continue;  // hidden files and editors' droppings are not certificates
    }
    names.push_back(std::move(name));
    // A directory with millions of entries must not hold the daemon.
    if (names.size() > 4 * kMaxCertFiles) {
      break;
    }
  }
  std::sort(names.begin(), names.end());
  if (names.size() > kMaxCertFiles) {
    scan.errors.push_back({"", "holds more than " + std::to_string(kMaxCertFiles) +
                                   " files; read the first " + std::to_string(kMaxCertFiles) +
                                   " by name and skipped the rest (from " + names[kMaxCertFiles] +
                                   ")"});
    names.resize(kMaxCertFiles);
  }
  for (std::string& name : names) {
    std::error_code sec;
    fs::file_status st = fs::status(fs::path(dir) / name, sec);
    if (sec) {
      scan.errors.push_back({name, "cannot read: " + sec.message()});
    } else if (!fs::is_regular_file(st)) {
      scan.errors.push_back({name, "is not a regular file; put certificate files directly in " +
                                       fs::path(dir).filename().string() + "/"});
    } else {
      scan.names.push_back(std::move(name));
    }
  }
  return scan;
}

// The file's bytes, refused past kMaxCertFileBytes.
model::Result<std::string> read_limited(const std::string& path) {
  model::Result<std::string> bytes = model::read_file(
      path, kMaxCertFileBytes, " (1 MiB); a certificate, key or CRL file is never that big");
  if (!bytes && !bytes.error().starts_with("is larger")) {
    return model::Result<std::string>::failure("cannot read: " + bytes.error());
  }
  return bytes;
}

// Objects in a PEM file beyond this are refused (a CA bundle has ~150).
constexpr size_t kMaxObjectsPerFile = 1000;

// The objects of one file: every PEM block of the type, or one DER object.
template <class Ptr>
struct ParsedObjects {
  std::string format;  // "PEM" or "DER"
  std::vector<Ptr> objects;
  std::string error;  // "" when every block parsed
};

// One reader for certificates, CRLs and private keys alike. PEM: every block
// PEM_READ finds, up to kMaxObjectsPerFile (more refuses the whole file); a
// block after the first that does not parse is an error naming its place.
// DER (anything without "-----BEGIN "): one object and not a byte after it.
// WHAT names the object in errors ("certificate"), BLOCK the PEM block sought
// ("CERTIFICATE"); PEM_ARG goes to no_passphrase (where an encrypted block is
// recorded).
template <class Ptr>
ParsedObjects<Ptr> parse_objects(
    std::string_view bytes, std::string_view what, std::string_view block,
    typename Ptr::pointer (*pem_read)(BIO*, typename Ptr::pointer*, pem_password_cb*, void*),
    typename Ptr::pointer (*der_read)(typename Ptr::pointer*, const unsigned char**, long),
    void* pem_arg = nullptr) {
  ParsedObjects<Ptr> out;
  ERR_clear_error();
  if (looks_pem(bytes)) {
    out.format = "PEM";
    BioPtr bio = memory_bio(bytes);
    bool clean_end = false;
    while (out.objects.size() <= kMaxObjectsPerFile) {
      // The end is clean when no block is left, or none of the type (a key
      // beside the certificate): the readers report the latter as no start line.
      char* rest = nullptr;
      const long left = BIO_get_mem_data(bio.get(), &rest);
      if (left <= 0 || std::string_view(rest, static_cast<size_t>(left)).find("-----BEGIN ") ==
                           std::string_view::npos) {
        clean_end = true;
        break;
      }
      typename Ptr::pointer object = pem_read(bio.get(), nullptr, no_passphrase, pem_arg);
      if (object == nullptr) {
        const unsigned long e = ERR_peek_last_error();
        clean_end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
        break;
      }
      out.objects.emplace_back(object);
    }
    if (out.objects.size() > kMaxObjectsPerFile) {
      out.error =
          "holds more than " + std::to_string(kMaxObjectsPerFile) + " " + std::string(what) + "s";
      out.objects.clear();
    } else if (out.objects.empty()) {
      out.error =
          clean_end ? "no " + std::string(block) + " block in the PEM file" : openssl_reason();
    } else if (!clean_end) {
      out.error = std::string(what) + " " + std::to_string(out.objects.size() + 1) +
                  " in the file: " + openssl_reason();
    }
    ERR_clear_error();
    return out;
  }
  out.format = "DER";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned char* end = p + bytes.size();
  Ptr object(der_read(nullptr, &p, static_cast<long>(bytes.size())));
  if (!object) {
    out.error = openssl_reason();
  } else if (p != end) {
    out.error = std::to_string(end - p) + " bytes of trailing data after the " + std::string(what);
  } else {
    out.objects.push_back(std::move(object));
  }
  ERR_clear_error();
  return out;
}

ParsedObjects<X509Ptr> parse_certificates(std::string_view bytes) {
  return parse_objects<X509Ptr>(bytes, "certificate", "CERTIFICATE", PEM_read_bio_X509_AUX,
                                d2i_X509);
}

// Reads every file scan_directory lists, each within the size limit, and hands its bytes to
// EACH; a file that cannot be read is an error of the directory's.
void read_each_file(const std::string& path, std::vector<FileError>& errors,
                    const std::function<void(const std::string& name, std::string bytes)>& each) {
  DirScan scan = scan_directory(path);
  errors = std::move(scan.errors);
  for (const std::string& name : scan.names) {
    model::Result<std::string> bytes = read_limited(path + "/" + name);
    if (!bytes) {
      errors.push_back({name, bytes.error()});
      continue;
    }
    each(name, std::move(bytes).value());
  }
}

struct LoadedCert {
  CertItem item;  // has_private_key is filled in at listing time
  X509Ptr cert;
  std::string spki;
};

struct CertDir {
  std::string label;  // "certs"
  std::string path;
  std::vector<LoadedCert> certs;
  std::vector<FileError> errors;
};

CertItem describe(X509* cert, const std::string& file, const std::string& format) {
  CertItem item;
  item.file = file;
  item.format = format;
  item.subject = name_text(X509_get_subject_name(cert));
  item.issuer = name_text(X509_get_issuer_name(cert));
  item.serial = serial_text(X509_get0_serialNumber(cert));
  item.not_before = asn1_time(X509_get0_notBefore(cert)).value_or(WallTime{});
  item.not_after = asn1_time(X509_get0_notAfter(cert)).value_or(WallTime{});
  if (const EVP_PKEY* key = X509_get0_pubkey(cert)) {
    item.key_type = key_type_text(key);
  } else {
    item.key_type = "unknown";
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) {
    item.fingerprint_sha256 = colon_hex(md, len);
  }
  item.is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
  item.subject_alt_names = subject_alt_names(cert);
  ERR_clear_error();
  return item;
}

std::shared_ptr<const CertDir> load_cert_dir(const std::string& label, const std::string& path) {
  auto dir = std::make_shared<CertDir>();
  dir->label = label;
  dir->path = path;
  read_each_file(path, dir->errors, [&](const std::string& name, std::string bytes) {
    ParsedObjects<X509Ptr> parsed = parse_certificates(bytes);
    if (!parsed.error.empty()) {
      dir->errors.push_back({name, "not a certificate (PEM or DER): " + parsed.error});
    }
    for (X509Ptr& cert : parsed.objects) {
      LoadedCert loaded;
      loaded.item = describe(cert.get(), name, parsed.format);
      if (const EVP_PKEY* key = X509_get0_pubkey(cert.get())) {
        loaded.spki = spki_der(key);
      }
      ERR_clear_error();
      loaded.cert = std::move(cert);
      dir->certs.push_back(std::move(loaded));
    }
  });
  return dir;
}

// private/: each key with its public half, which names the certificate it belongs to.
// The private halves stay in OpenSSL's objects (freed with their memory cleared) for
// IKE AUTH signatures; they are never printed or logged.
struct KeyDir {
  struct Key {
    std::string spki;  // DER SubjectPublicKeyInfo
    std::string file;
    crypto::SignatureKey key;
  };
  std::string path;
  std::vector<std::string> spkis;  // sorted, for has_private_key
  std::vector<Key> keys;
  std::vector<FileError> errors;

  const Key* find(const std::string& spki) const {
    for (const Key& k : keys) {
      if (k.spki == spki) {
        return &k;
      }
    }
    return nullptr;
  }
};

std::shared_ptr<const KeyDir> load_key_dir(const std::string& path) {
  auto dir = std::make_shared<KeyDir>();
  dir->path = path;
  read_each_file(path, dir->errors, [&](const std::string& name, std::string read) {
    WipedBytes bytes(std::move(read));
    struct stat st {};
    if (::stat((path + "/" + name).c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
      dir->errors.push_back({name, std::string("is accessible by group or others (mode ") + mode +
                                       "); run chmod 0600 on it"});
    }
    bool asked = false;
    ParsedObjects<PkeyPtr> keys =
        parse_objects<PkeyPtr>(bytes.get(), "private key", "PRIVATE KEY", PEM_read_bio_PrivateKey,
                               d2i_AutoPrivateKey, &asked);
    if (!keys.error.empty()) {
      // OpenSSL's reasons name the structure, never the key's content.
      std::string why = asked && keys.objects.empty()
                            ? "is an encrypted private key; ipsecd reads no passphrases, so it "
                              "cannot tell which certificate it belongs to"
                            : "not a private key (PEM or DER): " + keys.error;
      dir->errors.push_back({name, why});
    }
    for (const PkeyPtr& key : keys.objects) {
      std::string spki = spki_der(key.get());
      if (!spki.empty()) {
        dir->spkis.push_back(spki);
        dir->keys.push_back({std::move(spki), name, crypto::SignatureKey::share(key.get())});
      }
    }
  });
  std::sort(dir->spkis.begin(), dir->spkis.end());
  return dir;
}

// leftcert=NAME: certs/NAME, or NAME with .pem, .crt, .der or .cer, or an absolute path
// inside certs/; null when there is none.
const LoadedCert* find_named_cert(const CertDir& certs, const std::string& name) {
  std::string wanted = name;
  if (fs::path(name).is_absolute() && fs::path(name).parent_path() == fs::path(certs.path)) {
    wanted = fs::path(name).filename().string();
  }
  for (const std::string& candidate :
       {wanted, wanted + ".pem", wanted + ".crt", wanted + ".der", wanted + ".cer"}) {
    for (const LoadedCert& c : certs.certs) {
      if (c.item.file == candidate) {
        return &c;
      }
    }
  }
  return nullptr;
}

std::string no_such_cert(const CertDir& certs) {
  return "no certificate of that name in " + certs.path + " (also tried .pem, .crt, .der and .cer)";
}

struct LoadedCrl {
  CrlItem item;  // verified/verify_error are filled in at listing time
  CrlPtr crl;
};

struct CrlDir {
  std::string path;
  std::vector<LoadedCrl> crls;
  std::vector<FileError> errors;
};

CrlItem describe_crl(X509_CRL* crl, const std::string& file, const std::string& format) {
  CrlItem item;
  item.file = file;
  item.format = format;
  item.issuer = name_text(X509_CRL_get_issuer(crl));
  item.this_update = asn1_time(X509_CRL_get0_lastUpdate(crl)).value_or(WallTime{});
  item.next_update = asn1_time(X509_CRL_get0_nextUpdate(crl));
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    item.revoked.push_back({serial_text(X509_REVOKED_get0_serialNumber(r)),
                            asn1_time(X509_REVOKED_get0_revocationDate(r)).value_or(WallTime{})});
  }
  ERR_clear_error();
  return item;
}

std::shared_ptr<const CrlDir> load_crl_dir(const std::string& path) {
  auto dir = std::make_shared<CrlDir>();
  dir->path = path;
  read_each_file(path, dir->errors, [&](const std::string& name, std::string bytes) {
    ParsedObjects<CrlPtr> crls =
        parse_objects<CrlPtr>(bytes, "CRL", "X509 CRL", PEM_read_bio_X509_CRL, d2i_X509_CRL);
    if (!crls.error.empty()) {
      dir->errors.push_back({name, "not a CRL (PEM or DER): " + crls.error});
    }
    for (CrlPtr& crl : crls.objects) {
      dir->crls.push_back({describe_crl(crl.get(), name, crls.format), std::move(crl)});
    }
  });
  return dir;
}

std::vector<PolicyGroup> load_groups(const std::string& ipsecdir) {
  std::vector<PolicyGroup> groups;
  for (std::string_view name : kPolicyGroupNames) {
    std::string file = ipsecdir + "/policies/" + std::string(name);
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      PolicyGroup empty;
      empty.name = std::string(name);
      empty.file = file;
      groups.push_back(std::move(empty));  // an absent group file is an empty group
      continue;
    }
    if (!fs::is_regular_file(file, ec)) {
      PolicyGroup bad;
      bad.name = std::string(name);
      bad.file = file;
      bad.errors.push_back(file + ": is not a regular file");
      groups.push_back(std::move(bad));
      continue;
    }
    model::Result<std::string> text = read_limited(file);
    if (!text) {
      PolicyGroup bad;
      bad.name = std::string(name);
      bad.file = file;
      bad.errors.push_back(file + ": " + text.error());
      groups.push_back(std::move(bad));
      continue;
    }
    groups.push_back(parse_policy_group(name, file, text.value()));
  }
  return groups;
}

std::string render(std::string_view label, const FileError& e) {
  return std::string(label) + "/" + e.file + ": " + e.why;
}

}  // namespace

// --- public key values -------------------------------------------------------------

model::Result<PublicKeySummary> parse_pubkey_value(std::string_view value) {
  using R = model::Result<PublicKeySummary>;
  constexpr size_t kMaxValue = 16384;
  if (value.size() > kMaxValue) {
    return R::failure("the key is " + std::to_string(value.size()) + " characters long; at most " +
                      std::to_string(kMaxValue) + " fit a 16384-bit RSA key");
  }
  std::string prefix = lower(value.substr(0, 2));
  if (prefix != "0s" && prefix != "0x") {
    return R::failure(
        "expected 0s followed by base64 or 0x followed by hex (an RFC 3110 RSA key, as "
        "`ipsec showhostkey` prints it)");
  }
  std::string bytes(value.size(), '\0');
  model::Result<size_t> decoded = model::decode_ttodata(value, bytes);
  if (!decoded) {
    return R::failure(decoded.error());
  }
  bytes.resize(decoded.value());
  // A DER SubjectPublicKeyInfo (a SEQUENCE, 0x30) that parses to its last byte.
  if (static_cast<unsigned char>(bytes[0]) == 0x30) {
    ERR_clear_error();
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(bytes.size())));
    bool whole = key && p == reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size();
    ERR_clear_error();
    if (whole) {
      return PublicKeySummary{key_family(key.get()), EVP_PKEY_get_bits(key.get()),
                              key_id_of(key.get())};
    }
  }
  auto at = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(bytes[i])); };
  size_t exponent_len = 0;
  size_t offset = 0;
  if (at(0) != 0) {
    exponent_len = at(0);
    offset = 1;
  } else {
    if (bytes.size() < 3) {
      return R::failure("the RFC 3110 key ends inside its exponent length");
    }
    exponent_len = (at(1) << 8) | at(2);
    offset = 3;
    if (exponent_len == 0) {
      return R::failure("the RFC 3110 key has an exponent of length 0");
    }
  }
  if (offset + exponent_len > bytes.size()) {
    return R::failure("the RFC 3110 exponent (" + std::to_string(exponent_len) +
                      " bytes) runs past the end of the key (" + std::to_string(bytes.size()) +
                      " bytes)");
  }
  std::string_view exponent(bytes.data() + offset, exponent_len);
  std::string_view modulus(bytes.data() + offset + exponent_len,
                           bytes.size() - offset - exponent_len);
  if (exponent.find_first_not_of('\0') == std::string_view::npos) {
    return R::failure("the RSA exponent is zero");
  }
  BnPtr n(BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()),
                    static_cast<int>(modulus.size()), nullptr));
  int bits = n ? BN_num_bits(n.get()) : 0;
  if (bits < 512) {
    return R::failure("the RSA modulus has " + std::to_string(bits) +
                      " bits; an RFC 3110 key needs at least 512 (libreswan wants 2048 or more)");
  }
  if (bits > 16384) {
    return R::failure("the RSA modulus has " + std::to_string(bits) + " bits; at most 16384");
  }
  return PublicKeySummary{"RSA", bits, keyid_of_blob(bytes)};
}

// --- policy groups --------------------------------------------------------------------

PolicyGroup parse_policy_group(std::string_view name, std::string_view file,
                               std::string_view text) {
  constexpr size_t kMaxErrors = 100;
  PolicyGroup group;
  group.name = std::string(name);
  group.file = std::string(file);
  size_t line_no = 0;
  size_t dropped = 0;
  auto error = [&](std::string why) {
    if (group.errors.size() < kMaxErrors) {
      group.errors.push_back(group.file + ":" + std::to_string(line_no) + ": " + why);
    } else {
      ++dropped;
    }
  };
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    line = line.substr(0, line.find('#'));
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) {
      continue;
    }
    line = line.substr(b, line.find_last_not_of(" \t\r") - b + 1);
    if (line.find_first_of(" \t") != std::string_view::npos) {
      error("expected one CIDR block or address per line, found '" + std::string(line) +
            "'; put each on its own line");
      continue;
    }
    model::Result<model::Subnet> subnet = model::Subnet::parse(line);
    if (!subnet) {
      error(subnet.error());  // it quotes the text it refused
      continue;
    }
    group.entries.push_back(subnet->str());
  }
  if (dropped > 0) {
    group.errors.push_back(group.file + ": " + std::to_string(dropped) + " more errors not shown");
  }
  return group;
}

// --- the store ------------------------------------------------------------------------------

struct CertStore::State {
  std::shared_ptr<const CertDir> certs;
  std::shared_ptr<const CertDir> cacerts;
  std::shared_ptr<const CertDir> acerts;
  std::shared_ptr<const CertDir> aacerts;
  std::shared_ptr<const CrlDir> crls;
  std::shared_ptr<const KeyDir> keys;
  std::shared_ptr<const std::vector<PolicyGroup>> groups;

  const CertDir* cert_dir(CertKind kind) const {
    switch (kind) {
      case CertKind::kCerts:
        return certs.get();
      case CertKind::kCaCerts:
        return cacerts.get();
      case CertKind::kACerts:
        return acerts.get();
      case CertKind::kAaCerts:
        return aacerts.get();
      case CertKind::kCrls:
      case CertKind::kPubkeys:
        break;
    }
    return nullptr;
  }
};

struct CertStore::OcspCache {
  mutable std::mutex mu;
  std::map<std::string, std::string> responses;  // key -> DER OCSPResponse
};

namespace {

// Why `crl` is not verified by a CA in cacerts/ or aacerts/, "" when it is.
template <class S>
std::string crl_verify_error(const S& state, X509_CRL* crl, const std::string& issuer) {
  size_t candidates = 0;
  std::string last;
  for (const CertDir* dir : {state.cacerts.get(), state.aacerts.get()}) {
    for (const LoadedCert& ca : dir->certs) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.cert.get()), X509_CRL_get_issuer(crl)) != 0) {
        continue;
      }
      ++candidates;
      EVP_PKEY* key = X509_get0_pubkey(ca.cert.get());
      int ok = key != nullptr ? X509_CRL_verify(crl, key) : 0;
      ERR_clear_error();
      if (ok == 1) {
        return "";
      }
      last = "the signature does not verify with the key of " + dir->label + "/" + ca.item.file;
    }
  }
  if (candidates == 0) {
    return "no CA certificate in cacerts/ has the CRL's issuer as subject (" + issuer + ")";
  }
  return last;
}

// The CA in cacerts/ or aacerts/ that issued `cert`: "" with `found` false
// when none has its issuer as subject; otherwise why the signature fails ("").
template <class S>
std::string cert_signature_error(const S& state, X509* cert, bool& found) {
  found = false;
  std::string last;
  for (const CertDir* dir : {state.cacerts.get(), state.aacerts.get()}) {
    for (const LoadedCert& ca : dir->certs) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.cert.get()), X509_get_issuer_name(cert)) != 0) {
        continue;
      }
      found = true;
      EVP_PKEY* key = X509_get0_pubkey(ca.cert.get());
      int ok = key != nullptr ? X509_verify(cert, key) : 0;
      ERR_clear_error();
      if (ok == 1) {
        return "";
      }
      last = "its signature does not verify with the key of " + dir->label + "/" + ca.item.file;
    }
  }
  return last;
}

std::string days_text(Duration d) {
  auto hours = std::chrono::duration_cast<std::chrono::hours>(d).count();
  if (hours < 48) {
    return std::to_string(hours) + " hours";
  }
  return std::to_string(hours / 24) + " days";
}

}  // namespace

CertStore::CertStore(OpenKey, std::string ipsecdir)
    : ipsecdir_(std::move(ipsecdir)), ocsp_(std::make_unique<OcspCache>()) {}

CertStore::~CertStore() = default;

model::Result<std::unique_ptr<CertStore>> CertStore::open(std::string ipsecdir) {
  using R = model::Result<std::unique_ptr<CertStore>>;
  if (ipsecdir.empty()) {
    return R::failure("no certificate directory given (--ipsecdir); the default is " +
                      std::string(kDefaultIpsecDir));
  }
  while (ipsecdir.size() > 1 && ipsecdir.back() == '/') {
    ipsecdir.pop_back();
  }
  std::error_code ec;
  if (fs::exists(ipsecdir, ec) && !fs::is_directory(ipsecdir, ec)) {
    return R::failure("--ipsecdir " + ipsecdir + " is not a directory");
  }
  if (fs::exists(ipsecdir, ec)) {
    fs::directory_iterator probe(ipsecdir, ec);
    if (ec) {
      return R::failure("--ipsecdir " + ipsecdir + ": cannot list it: " + ec.message());
    }
  }
  auto store = std::make_unique<CertStore>(OpenKey{}, std::move(ipsecdir));
  store->reload(std::nullopt);
  return store;
}

std::string CertStore::directory(CertKind kind) const {
  if (kind == CertKind::kPubkeys) {
    return ipsecdir_ + "/certs";
  }
  return ipsecdir_ + "/" + std::string(cert_kind_name(kind));
}

std::shared_ptr<const CertStore::State> CertStore::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

CertListing CertStore::listing(CertKind kind,
                               const std::vector<const model::Connection*>& connections) const {
  if (kind == CertKind::kPubkeys) {
    return pubkeys(connections);
  }
  std::shared_ptr<const State> s = state();
  CertListing out;
  out.kind = kind;
  out.directory = directory(kind);
  if (kind == CertKind::kCrls) {
    for (const LoadedCrl& loaded : s->crls->crls) {
      CrlItem item = loaded.item;
      item.verify_error = crl_verify_error(*s, loaded.crl.get(), item.issuer);
      item.verified = item.verify_error.empty();
      out.crls.push_back(std::move(item));
    }
    for (const FileError& e : s->crls->errors) {
      out.errors.push_back(render("crls", e));
    }
    return out;
  }
  const CertDir* dir = s->cert_dir(kind);
  for (const LoadedCert& loaded : dir->certs) {
    CertItem item = loaded.item;
    item.has_private_key =
        !loaded.spki.empty() &&
        std::binary_search(s->keys->spkis.begin(), s->keys->spkis.end(), loaded.spki);
    out.certs.push_back(std::move(item));
  }
  for (const FileError& e : dir->errors) {
    out.errors.push_back(render(dir->label, e));
  }
  if (kind == CertKind::kCerts) {
    // Keys decide hasPrivateKey: their problems belong with the certificates.
    for (const FileError& e : s->keys->errors) {
      out.errors.push_back(render("private", e));
    }
  }
  return out;
}

CertListing CertStore::pubkeys(const std::vector<const model::Connection*>& connections) const {
  std::shared_ptr<const State> s = state();
  CertListing out;
  out.kind = CertKind::kPubkeys;
  out.directory = directory(CertKind::kPubkeys);
  std::vector<const model::Connection*> sorted;
  for (const model::Connection* c : connections) {
    if (c != nullptr) {
      sorted.push_back(c);
    }
  }
  std::sort(
      sorted.begin(), sorted.end(),
      [](const model::Connection* a, const model::Connection* b) { return a->name < b->name; });
  for (const model::Connection* conn : sorted) {
    for (model::Side side : {model::Side::kLeft, model::Side::kRight}) {
      const char* side_name = side == model::Side::kLeft ? "left" : "right";
      const model::Endpoint& end = side == model::Side::kLeft ? conn->left : conn->right;
      bool id_set = end.id.kind != model::IdKind::kAny && end.id.kind != model::IdKind::kFromCert;
      for (std::string_view keyword : {"rsasigkey", "pubkey"}) {
        std::string value(conn->value(keyword, side));
        std::string v = lower(value);
        if (v.empty() || v == "%cert" || v == "%dns" || v == "%dnsondemand" || v == "%none") {
          continue;
        }
        model::Result<PublicKeySummary> key = parse_pubkey_value(value);
        if (!key) {
          out.errors.push_back("conn " + conn->name + ": " + side_name + std::string(keyword) +
                               ": " + key.error());
          continue;
        }
        std::string id = id_set ? end.id.str() : end.address ? end.address->str() : "%any";
        out.pubkeys.push_back(
            {conn->name, side_name, id, key->key_type, key->bits, key->key_id, "rsasigkey"});
      }
      std::string cert_name(conn->value("cert", side));
      if (cert_name.empty()) {
        continue;
      }
      const LoadedCert* found = find_named_cert(*s->certs, cert_name);
      if (found == nullptr) {
        out.errors.push_back("conn " + conn->name + ": " + side_name + "cert=" + cert_name + ": " +
                             no_such_cert(*s->certs));
        continue;
      }
      const EVP_PKEY* key = X509_get0_pubkey(found->cert.get());
      if (key == nullptr) {
        ERR_clear_error();
        out.errors.push_back("conn " + conn->name + ": " + side_name + "cert=" + cert_name +
                             ": the certificate's public key cannot be read");
        continue;
      }
      out.pubkeys.push_back({conn->name, side_name, id_set ? end.id.str() : found->item.subject,
                             key_family(key), EVP_PKEY_get_bits(key), key_id_of(key), "cert"});
    }
  }
  return out;
}

std::vector<CertListing> CertStore::reload(
    std::optional<CertKind> kind, const std::vector<const model::Connection*>& connections) {
  std::lock_guard<std::mutex> reloading(reload_mu_);
  std::shared_ptr<const State> old = state();
  auto next = old ? std::make_shared<State>(*old) : std::make_shared<State>();
  auto wants = [&](CertKind k) { return !kind || *kind == k; };
  if (wants(CertKind::kCerts) || wants(CertKind::kPubkeys)) {
    next->certs = load_cert_dir("certs", directory(CertKind::kCerts));
    next->keys = load_key_dir(ipsecdir_ + "/private");
  }
  if (wants(CertKind::kCaCerts)) {
    next->cacerts = load_cert_dir("cacerts", directory(CertKind::kCaCerts));
  }
  if (wants(CertKind::kACerts)) {
    next->acerts = load_cert_dir("acerts", directory(CertKind::kACerts));
  }
  if (wants(CertKind::kAaCerts)) {
    next->aacerts = load_cert_dir("aacerts", directory(CertKind::kAaCerts));
  }
  if (wants(CertKind::kCrls)) {
    next->crls = load_crl_dir(directory(CertKind::kCrls));
  }
  if (!kind || !next->groups) {
    next->groups = std::make_shared<const std::vector<PolicyGroup>>(load_groups(ipsecdir_));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = std::move(next);
  }
  std::vector<CertListing> out;
  for (CertKind k : kAllCertKinds) {
    if (wants(k)) {
      out.push_back(listing(k, connections));
    }
  }
  return out;
}

CertCheck CertStore::check(Duration window, WallTime now) const {
  std::shared_ptr<const State> s = state();
  CertCheck out;
  out.window = window;
  // Serials revoked by verified CRLs, per issuer.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, WallTime>> revoked;
  for (const LoadedCrl& crl : s->crls->crls) {
    if (!crl_verify_error(*s, crl.crl.get(), crl.item.issuer).empty()) {
      continue;
    }
    for (const RevokedSerial& r : crl.item.revoked) {
      revoked[{crl.item.issuer, r.serial}] = {crl.item.file, r.revoked_at};
    }
  }
  auto by_time = [&](CertCheckItem& item, WallTime not_before, WallTime not_after,
                     std::string_view what) {
    item.not_after = not_after;
    if (now < not_before) {
      item.status = CertStatus::kInvalid;
      item.message = std::string(what) + " is not valid before " + format_rfc3339(not_before);
    } else if (not_after <= now) {
      item.status = CertStatus::kExpired;
      item.message = std::string(what) + " expired at " + format_rfc3339(not_after) + ", " +
                     days_text(now - not_after) + " ago";
    } else if (not_after - now <= window) {
      item.status = CertStatus::kExpiring;
      item.message = std::string(what) + " expires at " + format_rfc3339(not_after) + ", in " +
                     days_text(not_after - now);
    } else {
      item.status = CertStatus::kOk;
      item.message = std::string(what) + " is valid until " + format_rfc3339(not_after);
    }
  };
  for (CertKind kind : kAllCertKinds) {
    if (kind == CertKind::kPubkeys) {
      continue;
    }
    std::vector<CertCheckItem> items;
    if (kind == CertKind::kCrls) {
      for (const LoadedCrl& crl : s->crls->crls) {
        CertCheckItem item;
        item.kind = kind;
        item.name = crl.item.file;
        item.not_after = crl.item.next_update;
        std::string error = crl_verify_error(*s, crl.crl.get(), crl.item.issuer);
        if (!error.empty()) {
          item.status = CertStatus::kInvalid;
          item.message = "the CRL is not verified: " + error;
        } else if (!crl.item.next_update) {
          item.status = CertStatus::kOk;
          item.message = "the CRL has no nextUpdate";
        } else {
          by_time(item, crl.item.this_update, *crl.item.next_update, "the CRL");
          if (item.status == CertStatus::kExpired) {
            item.message += "; fetch a fresh CRL from its issuer";
          }
        }
        items.push_back(std::move(item));
      }
      for (const FileError& e : s->crls->errors) {
        items.push_back({kind, e.file, std::nullopt, CertStatus::kInvalid, e.why});
      }
    } else {
      const CertDir* dir = s->cert_dir(kind);
      for (const LoadedCert& c : dir->certs) {
        CertCheckItem item;
        item.kind = kind;
        item.name = c.item.file;
        by_time(item, c.item.not_before, c.item.not_after,
                "the certificate (" + c.item.subject + ")");
        bool self_issued = c.item.subject == c.item.issuer;
        if (!self_issued) {
          bool found = false;
          std::string error = cert_signature_error(*s, c.cert.get(), found);
          if (found && !error.empty()) {
            item.status = CertStatus::kInvalid;
            item.message = "the certificate (" + c.item.subject + "): " + error;
          }
          auto r = revoked.find({c.item.issuer, c.item.serial});
          if (r != revoked.end()) {
            item.status = CertStatus::kInvalid;
            item.message = "the certificate (" + c.item.subject + ") was revoked at " +
                           format_rfc3339(r->second.second) + " (crls/" + r->second.first + ")";
          }
        }
        items.push_back(std::move(item));
      }
      for (const FileError& e : dir->errors) {
        items.push_back({kind, e.file, std::nullopt, CertStatus::kInvalid, e.why});
      }
    }
    std::stable_sort(
        items.begin(), items.end(),
        [](const CertCheckItem& a, const CertCheckItem& b) { return a.name < b.name; });
    out.items.insert(out.items.end(), std::make_move_iterator(items.begin()),
                     std::make_move_iterator(items.end()));
  }
  return out;
}

namespace {

using StorePtr = OpenSslPtr<X509_STORE, X509_STORE_free>;
using StoreCtxPtr = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using EkuPtr = OpenSslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using EnumPtr = OpenSslPtr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
void free_stack(STACK_OF(X509) * stack) {
  sk_X509_free(stack);  // the stack only: the certificates are owned elsewhere
}
using CertStackPtr = OpenSslPtr<STACK_OF(X509), free_stack>;

// RFC 5280 5.3.1's CRLReason names.
std::string_view crl_reason_name(long reason) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
      "superseded",    "cessationOfOperation", "certificateHold", "",
      "removeFromCRL", "privilegeWithdrawn",   "aACompromise"};
  return reason >= 0 && reason < static_cast<long>(kNames.size()) ? kNames[reason] : "";
}

// " (at T, REASON, by crls/FILE)" for a certificate a CRL of ours revokes.
std::string revocation_text(const CrlDir& crls, X509* cert) {
  for (const LoadedCrl& crl : crls.crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.crl.get()), X509_get_issuer_name(cert)) != 0) {
      continue;
    }
    X509_REVOKED* revoked = nullptr;
    if (X509_CRL_get0_by_serial(crl.crl.get(), &revoked, X509_get0_serialNumber(cert)) != 1 ||
        revoked == nullptr) {
      continue;
    }
    std::string out = " (at ";
    out += model::text::format_rfc3339(
        asn1_time(X509_REVOKED_get0_revocationDate(revoked)).value_or(WallTime{}));
    EnumPtr reason(static_cast<ASN1_ENUMERATED*>(
        X509_REVOKED_get_ext_d2i(revoked, NID_crl_reason, nullptr, nullptr)));
    if (reason) {
      std::string_view name = crl_reason_name(ASN1_ENUMERATED_get(reason.get()));
      if (!name.empty()) {
        out += ", " + std::string(name);
      }
    }
    ERR_clear_error();
    return out + ", by crls/" + crl.item.file + ")";
  }
  return "";
}

// libreswan's rule for an end certificate: a key usage, when present, allows signatures;
// an extended key usage, when present, allows IKE. "" or why not.
std::string usage_error(X509* cert) {
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_KUSAGE) != 0 &&
      (X509_get_key_usage(cert) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0) {
    return "its key usage does not allow digitalSignature";
  }
  if ((flags & EXFLAG_XKUSAGE) == 0) {
    return "";
  }
  if ((X509_get_extended_key_usage(cert) & (XKU_SSL_SERVER | XKU_SSL_CLIENT | XKU_ANYEKU)) != 0) {
    return "";
  }
  EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i)) == NID_ipsec_IKE) {
      return "";
    }
  }
  ERR_clear_error();
  return "its extended key usage allows none of serverAuth, clientAuth, ipsecIKE";
}

// Missing or stale CRLs are no refusal (strictcrlpolicy=no); everything else is.
int tolerate_missing_crls(int ok, X509_STORE_CTX* ctx) {
  if (ok == 0) {
    switch (X509_STORE_CTX_get_error(ctx)) {
      case X509_V_ERR_UNABLE_TO_GET_CRL:
      case X509_V_ERR_CRL_HAS_EXPIRED:
      case X509_V_ERR_CRL_NOT_YET_VALID:
        return 1;
      default:
        break;
    }
  }
  return ok;
}

}  // namespace

model::Result<PeerCertificate> CertStore::validate_peer(const std::vector<std::string>& der,
                                                        WallTime now) const {
  using R = model::Result<PeerCertificate>;
  if (der.empty()) {
    return R::failure("the peer sent no certificate");
  }
  if (der.size() > kMaxPeerCertificates) {
    return R::failure("the peer sent " + std::to_string(der.size()) + " certificates; at most " +
                      std::to_string(kMaxPeerCertificates) + " are read");
  }
  std::vector<X509Ptr> certs;
  for (size_t i = 0; i < der.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(der[i].data());
    const auto* end = p + der[i].size();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der[i].size())));
    if (!cert || p != end) {
      return R::failure("certificate " + std::to_string(i + 1) +
                        " of the peer's is not DER X.509: " +
                        (cert ? std::to_string(end - p) + " octets after it" : openssl_reason()));
    }
    certs.push_back(std::move(cert));
  }
  std::shared_ptr<const State> s = state();
  StorePtr store(X509_STORE_new());
  CertStackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) {
    return R::failure("OpenSSL cannot set up the path validation: " + openssl_reason());
  }
  for (const LoadedCert& ca : s->cacerts->certs) {
    X509_STORE_add_cert(store.get(), ca.cert.get());
  }
  for (const LoadedCrl& crl : s->crls->crls) {
    X509_STORE_add_crl(store.get(), crl.crl.get());
  }
  ERR_clear_error();  // duplicates in cacerts/ are not an error here
  for (size_t i = 1; i < certs.size(); ++i) {
    sk_X509_push(untrusted.get(), certs[i].get());
  }
  X509* end_cert = certs.front().get();
  if (X509_STORE_CTX_init(ctx.get(), store.get(), end_cert, untrusted.get()) != 1) {
    return R::failure("OpenSSL cannot set up the path validation: " + openssl_reason());
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(now));
  // 112-bit security on the whole path (RFC 8247 2.4): RSA 2048, EC P-256, no MD5 or SHA-1
  // signatures.
  X509_VERIFY_PARAM_set_auth_level(param, 2);
  if (!s->crls->crls.empty()) {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  X509_STORE_CTX_set_verify_cb(ctx.get(), tolerate_missing_crls);
  const std::string subject = name_text(X509_get_subject_name(end_cert));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
    if (at == nullptr) {
      at = end_cert;
    }
    std::string why = X509_verify_cert_error_string(err);
    if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
      why += " (notAfter " +
             model::text::format_rfc3339(asn1_time(X509_get0_notAfter(at)).value_or(WallTime{})) +
             ")";
    } else if (err == X509_V_ERR_CERT_NOT_YET_VALID) {
      why += " (notBefore " +
             model::text::format_rfc3339(asn1_time(X509_get0_notBefore(at)).value_or(WallTime{})) +
             ")";
    } else if (err == X509_V_ERR_CERT_REVOKED) {
      why += revocation_text(*s->crls, at);
    } else if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
               err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
      why += ": no CA in cacerts/ (or certificate the peer sent) has its issuer " +
             name_text(X509_get_issuer_name(at)) + " as subject";
    }
    ERR_clear_error();
    std::string where = "certificate " + name_text(X509_get_subject_name(at));
    if (at != end_cert) {
      where += " (on the path of " + subject + ")";
    }
    return R::failure(where + ": " + why);
  }
  if (std::string usage = usage_error(end_cert); !usage.empty()) {
    return R::failure("certificate " + subject + ": " + usage);
  }
  PeerCertificate out;
  out.key = crypto::SignatureKey::share(X509_get0_pubkey(end_cert));
  if (!out.key) {
    ERR_clear_error();
    return R::failure("certificate " + subject + ": its public key does not parse");
  }
  out.subject = subject;
  out.issuer = name_text(X509_get_issuer_name(end_cert));
  out.serial = serial_text(X509_get0_serialNumber(end_cert));
  out.subject_alt_names = subject_alt_names(end_cert);
  out.not_after = asn1_time(X509_get0_notAfter(end_cert)).value_or(WallTime{});
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    out.chain.push_back(name_text(X509_get_subject_name(sk_X509_value(chain, i))));
  }
  ERR_clear_error();
  return out;
}

namespace {

struct Rdn {
  std::string type;  // lower case OpenSSL short name ("cn", "emailaddress", "serialnumber")
  std::string value;
};

// A type as written: OpenSSL's short names as they are; a configured ID's libreswan
// aliases (x509dn.c) mapped to them first: E and Email for emailAddress, S for surname
// (OpenSSL's SN), SN for serialNumber, SP for ST, T for title, G for givenName (GN).
std::string rdn_type(std::string_view type, bool libreswan) {
  std::string t = model::text::lower(model::text::trim(type));
  if (!libreswan) {
    return t;
  }
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kAliases = {{
      {"e", "emailaddress"},
      {"email", "emailaddress"},
      {"s", "sn"},
      {"sn", "serialnumber"},
      {"sp", "st"},
      {"t", "title"},
      {"g", "gn"},
      {"n", "name"},
      {"d", "description"},
  }};
  for (const auto& [alias, name] : kAliases) {
    if (t == alias) {
      return std::string(name);
    }
  }
  return t;
}

// "C=CA, O=Example + OU=Ops, CN=west" as its RDNs, RFC 4514 escapes decoded ("\,", "\ ",
// "\01"): only unescaped blanks around a value are trimmed and only unescaped quotes
// quote, so an escaped character is always part of the value. nullopt when a part has no
// '=' or an escape is cut short. `libreswan`: the text is a configured ID (its aliases).
std::optional<std::vector<Rdn>> parse_dn(std::string_view text, bool libreswan) {
  std::vector<Rdn> out;
  std::string type;
  std::string value;
  bool in_value = false;
  bool quoted = false;
  size_t keep = 0;  // value[0, keep) holds the escaped or quoted characters: never trimmed
  auto flush = [&]() -> bool {
    if (!in_value) {
      return false;
    }
    size_t end = value.size();
    while (end > keep && (value[end - 1] == ' ' || value[end - 1] == '\t')) {
      --end;
    }
    out.push_back({rdn_type(type, libreswan), value.substr(0, end)});
    type.clear();
    value.clear();
    in_value = false;
    keep = 0;
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_value) {
      if (c == '=') {
        in_value = true;
      } else if (c == ',' || c == '+' || c == '\\' || c == '"') {
        return std::nullopt;
      } else {
        type += c;
      }
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        return std::nullopt;
      }
      const int hi = model::text::hex_value(text[i + 1]);
      const int lo = i + 2 < text.size() ? model::text::hex_value(text[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        value += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        value += text[++i];
      }
      keep = value.size();
    } else if (c == '"') {
      quoted = !quoted;
      keep = value.size();
    } else if ((c == ',' || c == '+') && !quoted) {
      if (!flush()) {
        return std::nullopt;
      }
    } else if (value.size() == keep && !quoted && (c == ' ' || c == '\t') && keep == 0) {
      // a blank before the value
    } else {
      value += c;
      if (quoted) {
        keep = value.size();
      }
    }
  }
  if (quoted) {
    return std::nullopt;
  }
  if (in_value) {
    flush();
  } else if (!model::text::trim(type).empty()) {
    return std::nullopt;
  }
  return out;
}

// libreswan's match of a DN with a certificate's: same RDNs in any order; `*` matches
// any value of its type when `wildcards` (a configured ID only, never the peer's).
bool dn_matches(const std::vector<Rdn>& wanted, const std::vector<Rdn>& have, bool wildcards) {
  if (wanted.size() != have.size()) {
    return false;
  }
  std::vector<bool> used(have.size(), false);
  // Exact values first, so that a wildcard never takes the RDN an exact value needs.
  for (int pass = 0; pass < 2; ++pass) {
    for (const Rdn& w : wanted) {
      const bool wild = wildcards && w.value == "*";
      if (wild != (pass == 1)) {
        continue;
      }
      bool found = false;
      for (size_t i = 0; i < have.size() && !found; ++i) {
        if (!used[i] && w.type == have[i].type &&
            (wild || model::text::iequals(w.value, have[i].value))) {
          used[i] = true;
          found = true;
        }
      }
      if (!found) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

model::Result<std::string> match_identity(const PeerCertificate& cert, const model::Identity& id,
                                          IdOrigin origin) {
  const bool configured = origin == IdOrigin::kConfigured;
  using R = model::Result<std::string>;
  using model::IdKind;
  std::string san_prefix;
  switch (id.kind) {
    case IdKind::kAny:
    case IdKind::kFromCert:
      return std::string("subject");
    case IdKind::kDn: {
      std::optional<std::vector<Rdn>> wanted = parse_dn(id.value, configured);
      std::optional<std::vector<Rdn>> have = parse_dn(cert.subject, false);
      if (!wanted) {
        return R::failure("ID " + id.str() + " is not a DN of TYPE=value parts");
      }
      if (have && dn_matches(*wanted, *have, configured)) {
        return std::string("subject");
      }
      for (const std::string& san : cert.subject_alt_names) {
        if (san.rfind("DirName:", 0) == 0) {
          std::optional<std::vector<Rdn>> dir = parse_dn(std::string_view(san).substr(8), false);
          if (dir && dn_matches(*wanted, *dir, configured)) {
            return san;
          }
        }
      }
      return R::failure("ID " + id.str() + " is not the certificate's subject (" + cert.subject +
                        ")");
    }
    case IdKind::kFqdn:
      san_prefix = "DNS:";
      break;
    case IdKind::kUserFqdn:
      san_prefix = "email:";
      break;
    case IdKind::kIpv4:
    case IdKind::kIpv6:
      san_prefix = "IP:";
      break;
    case IdKind::kNone:
    case IdKind::kKeyId:
    case IdKind::kNull:
      return R::failure("ID " + id.str() + " cannot be proven by a certificate");
  }
  std::optional<model::IpAddress> address;
  if (san_prefix == "IP:") {
    model::Result<model::IpAddress> parsed = model::IpAddress::parse(id.value);
    if (!parsed) {
      return R::failure("ID " + id.str() + " is not an address: " + parsed.error());
    }
    address = *parsed;
  }
  for (const std::string& san : cert.subject_alt_names) {
    if (san.rfind(san_prefix, 0) != 0) {
      continue;
    }
    std::string_view value = std::string_view(san).substr(san_prefix.size());
    if (address) {
      model::Result<model::IpAddress> parsed = model::IpAddress::parse(value);
      if (parsed && *parsed == *address) {
        return san;
      }
    } else if (model::text::iequals(value, id.value)) {
      return san;
    }
  }
  std::string sans;
  for (const std::string& san : cert.subject_alt_names) {
    sans += (sans.empty() ? "" : ", ") + san;
  }
  return R::failure("ID " + id.str() + " is in no subjectAltName of the certificate (" +
                    (sans.empty() ? std::string("it has none") : sans) + ")");
}

namespace {

std::string cert_der(X509* cert) {
  unsigned char* out = nullptr;
  const int len = i2d_X509(cert, &out);
  std::string der =
      len > 0 ? std::string(reinterpret_cast<char*>(out), static_cast<size_t>(len)) : std::string();
  OPENSSL_free(out);
  return der;
}

}  // namespace

model::Result<OwnCredential> CertStore::own_credential(const std::string& leftcert) const {
  using R = model::Result<OwnCredential>;
  std::shared_ptr<const State> s = state();
  const LoadedCert* cert = find_named_cert(*s->certs, leftcert);
  if (cert == nullptr) {
    return R::failure("leftcert=" + leftcert + ": " + no_such_cert(*s->certs));
  }
  const KeyDir::Key* key = s->keys->find(cert->spki);
  if (key == nullptr) {
    std::string why = "leftcert=" + leftcert + ": " + s->certs->path + "/" + cert->item.file +
                      " has no private key in " + s->keys->path +
                      " (one whose public key is the certificate's)";
    for (const FileError& e : s->keys->errors) {
      if (e.why.find("encrypted") != std::string::npos) {
        why += "; " + e.file + " is encrypted, and ipsecd reads no passphrases";
      }
    }
    return R::failure(why);
  }
  OwnCredential out;
  out.key = key->key;
  out.certificate = cert_der(cert->cert.get());
  out.subject = cert->item.subject;
  out.subject_alt_names = cert->item.subject_alt_names;
  out.not_after = cert->item.not_after;
  X509* current = cert->cert.get();
  while (out.intermediates.size() + 1 < kMaxPeerCertificates) {
    const LoadedCert* issuer = nullptr;
    for (const LoadedCert& ca : s->cacerts->certs) {
      EVP_PKEY* ca_key = X509_get0_pubkey(ca.cert.get());
      if (ca.cert.get() != current &&
          X509_NAME_cmp(X509_get_subject_name(ca.cert.get()), X509_get_issuer_name(current)) == 0 &&
          ca_key != nullptr && X509_verify(current, ca_key) == 1) {
        issuer = &ca;
        break;
      }
    }
    ERR_clear_error();
    if (issuer == nullptr || X509_NAME_cmp(X509_get_subject_name(issuer->cert.get()),
                                           X509_get_issuer_name(issuer->cert.get())) == 0) {
      break;  // the root (or no CA of ours): the peer has it or cannot use it
    }
    out.intermediates.push_back(cert_der(issuer->cert.get()));
    current = issuer->cert.get();
  }
  return out;
}

std::vector<PolicyGroup> CertStore::groups() const {
  return *state()->groups;
}

std::vector<PolicyGroup> CertStore::reload_groups() {
  std::lock_guard<std::mutex> reloading(reload_mu_);
  auto next = std::make_shared<State>(*state());
  next->groups = std::make_shared<const std::vector<PolicyGroup>>(load_groups(ipsecdir_));
  std::vector<PolicyGroup> out = *next->groups;
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(next);
  return out;
}

model::Result<bool> CertStore::add_ocsp_response(std::string key, std::string der) {
  using R = model::Result<bool>;
  if (der.size() > kMaxCertFileBytes) {
    return R::failure("the OCSP response is larger than 1 MiB");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspPtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!response) {
    return R::failure("not a DER OCSPResponse: " + openssl_reason());
  }
  std::lock_guard<std::mutex> lock(ocsp_->mu);
  ocsp_->responses[std::move(key)] = std::move(der);
  return true;
}

size_t CertStore::ocsp_responses() const {
  std::lock_guard<std::mutex> lock(ocsp_->mu);
  return ocsp_->responses.size();
}

size_t CertStore::purge_ocsp() {
  std::lock_guard<std::mutex> lock(ocsp_->mu);
  size_t n = ocsp_->responses.size();
  ocsp_->responses.clear();
  return n;
}

// --- JSON ----------------------------------------------------------------------------------

}  // namespace ipsecd::engine::x509
