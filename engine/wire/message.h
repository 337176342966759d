#pragma once
// IKEv2 messages as values (RFC 7296 section 3, RFC 7383 for SKF) and their codec.
// decode() checks every length and count and keeps the message in wire order;
// encode() computes every length and the next-payload chain.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "model/proposals.h"

namespace ipsecd::engine::wire {

// ---- IANA numbers (IKEv2 parameters registry). Enums are open: any value fits.

enum class ExchangeType : uint8_t {
  kIkeSaInit = 34,
  kIkeAuth = 35,
  kCreateChildSa = 36,
  kInformational = 37,
  kIkeSessionResume = 38,
  kIkeIntermediate = 43,
  kIkeFollowupKe = 44,
};

enum class PayloadType : uint8_t {
  kNone = 0,
  kSa = 33,
  kKe = 34,
  kIdi = 35,
  kIdr = 36,
  kCert = 37,
  kCertReq = 38,
  kAuth = 39,
  kNonce = 40,
  kNotify = 41,
  kDelete = 42,
  kVendorId = 43,
  kTsi = 44,
  kTsr = 45,
  kEncrypted = 46,
  kConfiguration = 47,
  kEap = 48,
  kGspm = 49,
  kEncryptedFragment = 53,
  kPuzzleSolution = 54,
};

enum class ProtocolId : uint8_t { kNone = 0, kIke = 1, kAh = 2, kEsp = 3 };

enum class TransformType : uint8_t {
  kEncryption = 1,
  kPrf = 2,
  kIntegrity = 3,
  kKeyExchange = 4,  // "Diffie-Hellman group" before RFC 9370
  kEsn = 5,
  kAdditionalKe1 = 6,
  kAdditionalKe7 = 12,
};

// The transform IDs (IANA's IKEv2 registries) are defined once, in
// model/proposals.h, which configuration parses straight into; the codec uses
// them under its own names. Only the enums: the codec still links alone.
using EncryptionId = model::EncrId;
using PrfId = model::PrfId;
using IntegrityId = model::IntegId;
using KeGroup = model::DhId;

enum class EsnId : uint16_t { kNoEsn = 0, kEsn = 1 };

// Transform attribute types; Key Length is the only one RFC 7296 defines.
inline constexpr uint16_t kAttributeKeyLength = 14;

enum class IdType : uint8_t {
  kIpv4Addr = 1,
  kFqdn = 2,
  kRfc822Addr = 3,
  kIpv6Addr = 5,
  kDerAsn1Dn = 9,
  kDerAsn1Gn = 10,
  kKeyId = 11,
  kFcName = 12,
  kNull = 13,
};

enum class CertEncoding : uint8_t {
  kPkcs7 = 1,
  kPgp = 2,
  kDnsSignedKey = 3,
  kX509Signature = 4,
  kKerberos = 6,
  kCrl = 7,
  kArl = 8,
  kSpki = 9,
  kX509Attribute = 10,
  kRawRsaKey = 11,
  kHashUrlX509Cert = 12,
  kHashUrlX509Bundle = 13,
  kOcspContent = 14,
  kRawPublicKey = 15,
};

enum class AuthMethod : uint8_t {
  kRsaSignature = 1,
  kSharedKeyMic = 2,
  kDssSignature = 3,
  kEcdsaSha256P256 = 9,
  kEcdsaSha384P384 = 10,
  kEcdsaSha512P521 = 11,
  kGenericSecurePassword = 12,
  kNull = 13,
  kDigitalSignature = 14,
};

enum class NotifyType : uint16_t {
  // Errors (< 16384).
  kUnsupportedCriticalPayload = 1,
  kInvalidIkeSpi = 4,
  kInvalidMajorVersion = 5,
  kInvalidSyntax = 7,
  kInvalidMessageId = 9,
  kInvalidSpi = 11,
  kNoProposalChosen = 14,
  kInvalidKePayload = 17,
  kAuthenticationFailed = 24,
  kSinglePairRequired = 34,
  kNoAdditionalSas = 35,
  kInternalAddressFailure = 36,
  kFailedCpRequired = 37,
  kTsUnacceptable = 38,
  kInvalidSelectors = 39,
  kUnacceptableAddresses = 40,
  kUnexpectedNatDetected = 41,
  kUseAssignedHoa = 42,
  kTemporaryFailure = 43,
  kChildSaNotFound = 44,
  // Status (>= 16384).
  kInitialContact = 16384,
  kSetWindowSize = 16385,
  kAdditionalTsPossible = 16386,
  kIpcompSupported = 16387,
  kNatDetectionSourceIp = 16388,
  kNatDetectionDestinationIp = 16389,
  kCookie = 16390,
  kUseTransportMode = 16391,
  kHttpCertLookupSupported = 16392,
  kRekeySa = 16393,
  kEspTfcPaddingNotSupported = 16394,
  kNonFirstFragmentsAlso = 16395,
  kMobikeSupported = 16396,
  kAdditionalIp4Address = 16397,
  kAdditionalIp6Address = 16398,
  kNoAdditionalAddresses = 16399,
  kUpdateSaAddresses = 16400,
  kCookie2 = 16401,
  kNoNatsAllowed = 16402,
  kAuthLifetime = 16403,
  kMultipleAuthSupported = 16404,
  kAnotherAuthFollows = 16405,
  kRedirectSupported = 16406,
  kRedirect = 16407,
  kRedirectedFrom = 16408,
  kTicketLtOpaque = 16409,
  kTicketRequest = 16410,
  kTicketAck = 16411,
  kTicketNack = 16412,
  kTicketOpaque = 16413,
  kLinkId = 16414,
  kUseWespMode = 16415,
  kRohcSupported = 16416,
  kEapOnlyAuthentication = 16417,
  kChildlessIkev2Supported = 16418,
  kQuickCrashDetection = 16419,
  kIkev2MessageIdSyncSupported = 16420,
  kIpsecReplayCounterSyncSupported = 16421,
  kIkev2MessageIdSync = 16422,
  kIpsecReplayCounterSync = 16423,
  kSecurePasswordMethods = 16424,
  kPskPersist = 16425,
  kPskConfirm = 16426,
  kErxSupported = 16427,
  kIfomCapability = 16428,
  kSenderRequestId = 16429,
  kIkev2FragmentationSupported = 16430,
  kSignatureHashAlgorithms = 16431,
  kCloneIkeSaSupported = 16432,
  kCloneIkeSa = 16433,
  kPuzzle = 16434,
  kUsePpk = 16435,
  kPpkIdentity = 16436,
  kNoPpkAuth = 16437,
  kIntermediateExchangeSupported = 16438,
};

enum class TsType : uint8_t {
  kIpv4AddrRange = 7,
  kIpv6AddrRange = 8,
  kFcAddrRange = 9,
  kSecLabel = 10,
};

enum class CfgType : uint8_t { kRequest = 1, kReply = 2, kSet = 3, kAck = 4 };

enum class CfgAttribute : uint16_t {
  kInternalIp4Address = 1,
  kInternalIp4Netmask = 2,
  kInternalIp4Dns = 3,
  kInternalIp4Nbns = 4,
  kInternalIp4Dhcp = 6,
  kApplicationVersion = 7,
  kInternalIp6Address = 8,
  kInternalIp6Dns = 10,
  kInternalIp6Dhcp = 12,
  kInternalIp4Subnet = 13,
  kSupportedAttributes = 14,
  kInternalIp6Subnet = 15,
};

// ---- Header and payloads.

inline constexpr std::size_t kHeaderSize = 28;
inline constexpr std::size_t kGenericHeaderSize = 4;

struct Header {
  uint64_t spi_i = 0;  // big-endian on the wire, host order here
  uint64_t spi_r = 0;
  PayloadType next_payload = PayloadType::kNone;  // set by encode() from the payload list
  uint8_t major_version = 2;
  uint8_t minor_version = 0;
  ExchangeType exchange = ExchangeType::kIkeSaInit;
  bool initiator = false;  // flag I (0x08): sent by the original initiator of the IKE SA
  bool version = false;    // flag V (0x10): sender can speak a higher major version
  bool response = false;   // flag R (0x20)
  uint32_t message_id = 0;
  uint32_t length = 0;  // set by encode()
  bool operator==(const Header&) const = default;
};

struct TransformAttribute {
  uint16_t type = 0;  // without the AF bit
  bool tv = false;    // TV format: value is exactly 2 octets
  std::vector<uint8_t> value;
  bool operator==(const TransformAttribute&) const = default;
};

struct Transform {
  TransformType type = TransformType::kEncryption;
  uint16_t id = 0;                     // EncryptionId, PrfId, IntegrityId, KeGroup or EsnId by type
  std::optional<uint16_t> key_length;  // attribute 14, in bits
  std::vector<TransformAttribute> attributes;  // any others, in wire order
  bool operator==(const Transform&) const = default;
};

struct Proposal {
  uint8_t number = 1;
  ProtocolId protocol = ProtocolId::kIke;
  std::vector<uint8_t> spi;  // empty (IKE_SA_INIT), 8 (IKE rekey) or 4 (AH, ESP) octets
  std::vector<Transform> transforms;
  bool operator==(const Proposal&) const = default;
};

struct SaPayload {
  std::vector<Proposal> proposals;
  bool operator==(const SaPayload&) const = default;
};

struct KePayload {
  uint16_t group = 0;  // KeGroup
  std::vector<uint8_t> data;
  bool operator==(const KePayload&) const = default;
};

struct IdPayload {
  bool responder = false;  // IDr (36) when true, IDi (35) otherwise
  IdType type = IdType::kFqdn;
  std::vector<uint8_t> data;
  bool operator==(const IdPayload&) const = default;
};

struct CertPayload {
  CertEncoding encoding = CertEncoding::kX509Signature;
  std::vector<uint8_t> data;
  bool operator==(const CertPayload&) const = default;
};

struct CertReqPayload {
  CertEncoding encoding = CertEncoding::kX509Signature;
  std::vector<uint8_t> authorities;  // for X.509: concatenated SHA-1 hashes of CA public keys
  bool operator==(const CertReqPayload&) const = default;
};

struct AuthPayload {
  AuthMethod method = AuthMethod::kSharedKeyMic;
  std::vector<uint8_t> data;
  bool operator==(const AuthPayload&) const = default;
};

struct NoncePayload {
  std::vector<uint8_t> data;  // 16..256 octets
  bool operator==(const NoncePayload&) const = default;
};

struct NotifyPayload {
  ProtocolId protocol = ProtocolId::kNone;  // read as kNone when the SPI is empty (RFC 7296 3.10)
  std::vector<uint8_t> spi;
  NotifyType type = NotifyType::kInitialContact;
  std::vector<uint8_t> data;
  bool operator==(const NotifyPayload&) const = default;
};

struct DeletePayload {
  ProtocolId protocol = ProtocolId::kEsp;
  std::vector<uint32_t> spis;  // 4-octet SPIs (AH, ESP); empty for the IKE SA
  bool operator==(const DeletePayload&) const = default;
};

struct VendorIdPayload {
  std::vector<uint8_t> data;
  bool operator==(const VendorIdPayload&) const = default;
};

struct TrafficSelector {
  TsType type = TsType::kIpv4AddrRange;
  uint8_t ip_protocol = 0;  // 0 = any
  uint16_t start_port = 0;
  uint16_t end_port = 65535;
  std::array<uint8_t, 16> start_address{};  // IPv4 uses the first 4 octets, the rest stay 0
  std::array<uint8_t, 16> end_address{};
  std::vector<uint8_t> opaque;  // other TS types: the octets after the 4-octet TS header
  bool operator==(const TrafficSelector&) const = default;
};

struct TsPayload {
  bool responder = false;  // TSr (45) when true, TSi (44) otherwise
  std::vector<TrafficSelector> selectors;
  bool operator==(const TsPayload&) const = default;
};

// SK: IV, ciphertext (with padding and pad length) and ICV, opaque to the codec.
struct EncryptedPayload {
  PayloadType first_inner = PayloadType::kNone;
  std::vector<uint8_t> data;
  bool operator==(const EncryptedPayload&) const = default;
};

// SKF (RFC 7383): one fragment of an SK payload's content.
struct EncryptedFragmentPayload {
  PayloadType first_inner = PayloadType::kNone;  // kNone in all but fragment 1
  uint16_t number = 1;
  uint16_t total = 1;
  std::vector<uint8_t> data;
  bool operator==(const EncryptedFragmentPayload&) const = default;
};

struct CpAttribute {
  uint16_t type = 0;  // CfgAttribute, without the reserved bit
  std::vector<uint8_t> value;
  bool operator==(const CpAttribute&) const = default;
};

struct CpPayload {
  CfgType type = CfgType::kRequest;
  std::vector<CpAttribute> attributes;
  bool operator==(const CpPayload&) const = default;
};

struct EapPayload {
  std::vector<uint8_t> message;  // a whole EAP packet (RFC 3748), its length field checked
  bool operator==(const EapPayload&) const = default;
};

// A payload type this codec does not parse; only non-critical ones are kept.
struct UnknownPayload {
  uint8_t type = 0;
  bool critical = false;
  std::vector<uint8_t> body;
  bool operator==(const UnknownPayload&) const = default;
};

using Payload =
    std::variant<SaPayload, KePayload, IdPayload, CertPayload, CertReqPayload, AuthPayload,
                 NoncePayload, NotifyPayload, DeletePayload, VendorIdPayload, TsPayload,
                 EncryptedPayload, EncryptedFragmentPayload, CpPayload, EapPayload, UnknownPayload>;

struct Message {
  Header header;
  std::vector<Payload> payloads;  // wire order; an SK or SKF payload comes last
  bool operator==(const Message&) const = default;
};

PayloadType payload_type(const Payload& payload);

// ---- Results.

enum class ErrorCode : uint8_t {
  kTruncatedHeader,             // fewer than 28 octets
  kInvalidMajorVersion,         // major version is not 2
  kLengthMismatch,              // header length differs from the datagram size
  kTruncatedPayload,            // fewer than 4 octets left for a generic payload header
  kPayloadTooShort,             // payload length below the minimum for its type
  kPayloadOverrun,              // payload length beyond the end of the message
  kMalformedPayload,            // a field, count or substructure inside a payload is wrong
  kUnsupportedCriticalPayload,  // unknown payload type with the critical bit set
  kTrailingBytes,               // octets after the last payload
  kMisplacedEncrypted,          // SK/SKF not last, or inside SK
  kUnencodable,                 // encode(): a value does not fit its field
};

struct Error {
  ErrorCode code = ErrorCode::kMalformedPayload;
  std::string message;
  // The unknown payload type for kUnsupportedCriticalPayload (the notification data).
  uint8_t payload_type = 0;
  // The header when it was readable, so a response can be addressed.
  std::optional<Header> header;

  // What RFC 7296 says to answer with. Whether to answer at all is the engine's call:
  // INVALID_MAJOR_VERSION only for a higher major version (2.5), INVALID_SYNTAX only
  // inside an authenticated exchange (3.10.1).
  NotifyType answer() const;
};

// A value or an Error: kernel::Result's shape over the codec's Error (the
// codec links alone, without kernel/).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// ---- Decoding.

// The fixed header only (for demultiplexing by SPI before a full decode). Checks the
// size and major version, not the length field.
Result<Header> decode_header(std::span<const uint8_t> datagram);

// A whole message as received in one UDP datagram (without the non-ESP marker).
Result<Message> decode(std::span<const uint8_t> datagram);

// The payload chain inside a decrypted SK payload (or reassembled SKF fragments).
Result<std::vector<Payload>> decode_payloads(PayloadType first, std::span<const uint8_t> bytes);

// ---- Encoding.

struct Encoded {
  std::vector<uint8_t> bytes;
  // Offset of the SK/SKF content (the IV) when the last payload is SK or SKF, else 0.
  // bytes[0, encrypted_offset) is the AEAD associated data (RFC 5282 5.1, RFC 7383 2.5);
  // the content is a copy of the payload's data, to be overwritten when sealing.
  std::size_t encrypted_offset = 0;
};

Result<Encoded> encode_layout(const Message& message);
Result<std::vector<uint8_t>> encode(const Message& message);

struct EncodedPayloads {
  PayloadType first = PayloadType::kNone;  // the SK payload's Next Payload value
  std::vector<uint8_t> bytes;
};

// The plaintext payload chain to put inside SK (no SK/SKF allowed).
Result<EncodedPayloads> encode_payloads(std::span<const Payload> payloads);

// ---- Names, for logs and error messages.

std::string_view exchange_name(ExchangeType type);  // "" when unknown
std::string payload_name(uint8_t type);             // "Nonce", "type 99"
std::string notify_name(NotifyType type);           // "COOKIE", "notify 40000"
std::string_view error_code_name(ErrorCode code);
// One line as in "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) V ]".
std::string summary(const Message& message);

}  // namespace ipsecd::engine::wire
