// Names as the RFCs and IANA registries spell them, for logs and error messages.

#include <string>

#include "engine/wire/message.h"

namespace ipsecd::engine::wire {
namespace {

std::string_view payload_short_name(PayloadType type) {
  switch (type) {
    case PayloadType::kSa:
      return "SA";
    case PayloadType::kKe:
      return "KE";
    case PayloadType::kIdi:
      return "IDi";
    case PayloadType::kIdr:
      return "IDr";
    case PayloadType::kCert:
      return "CERT";
    case PayloadType::kCertReq:
      return "CERTREQ";
    case PayloadType::kAuth:
      return "AUTH";
    case PayloadType::kNonce:
      return "No";
    case PayloadType::kNotify:
      return "N";
    case PayloadType::kDelete:
      return "D";
    case PayloadType::kVendorId:
      return "V";
    case PayloadType::kTsi:
      return "TSi";
    case PayloadType::kTsr:
      return "TSr";
    case PayloadType::kEncrypted:
      return "SK";
    case PayloadType::kConfiguration:
      return "CP";
    case PayloadType::kEap:
      return "EAP";
    case PayloadType::kEncryptedFragment:
      return "SKF";
    default:
      return "";
  }
}

std::string_view notify_known_name(NotifyType type) {
  switch (type) {
    case NotifyType::kUnsupportedCriticalPayload:
      return "UNSUPPORTED_CRITICAL_PAYLOAD";
    case NotifyType::kInvalidIkeSpi:
      return "INVALID_IKE_SPI";
    case NotifyType::kInvalidMajorVersion:
      return "INVALID_MAJOR_VERSION";
    case NotifyType::kInvalidSyntax:
      return "INVALID_SYNTAX";
    case NotifyType::kInvalidMessageId:
      return "INVALID_MESSAGE_ID";
    case NotifyType::kInvalidSpi:
      return "INVALID_SPI";
    case NotifyType::kNoProposalChosen:
      return "NO_PROPOSAL_CHOSEN";
    case NotifyType::kInvalidKePayload:
      return "INVALID_KE_PAYLOAD";
    case NotifyType::kAuthenticationFailed:
      return "AUTHENTICATION_FAILED";
    case NotifyType::kSinglePairRequired:
      return "SINGLE_PAIR_REQUIRED";
    case NotifyType::kNoAdditionalSas:
      return "NO_ADDITIONAL_SAS";
    case NotifyType::kInternalAddressFailure:
      return "INTERNAL_ADDRESS_FAILURE";
    case NotifyType::kFailedCpRequired:
      return "FAILED_CP_REQUIRED";
    case NotifyType::kTsUnacceptable:
      return "TS_UNACCEPTABLE";
    case NotifyType::kInvalidSelectors:
      return "INVALID_SELECTORS";
    case NotifyType::kUnacceptableAddresses:
      return "UNACCEPTABLE_ADDRESSES";
    case NotifyType::kUnexpectedNatDetected:
      return "UNEXPECTED_NAT_DETECTED";
    case NotifyType::kUseAssignedHoa:
      return "USE_ASSIGNED_HoA";
    case NotifyType::kTemporaryFailure:
      return "TEMPORARY_FAILURE";
    case NotifyType::kChildSaNotFound:
      return "CHILD_SA_NOT_FOUND";
    case NotifyType::kInitialContact:
      return "INITIAL_CONTACT";
    case NotifyType::kSetWindowSize:
      return "SET_WINDOW_SIZE";
    case NotifyType::kAdditionalTsPossible:
      return "ADDITIONAL_TS_POSSIBLE";
    case NotifyType::kIpcompSupported:
      return "IPCOMP_SUPPORTED";
    case NotifyType::kNatDetectionSourceIp:
      return "NAT_DETECTION_SOURCE_IP";
    case NotifyType::kNatDetectionDestinationIp:
      return "NAT_DETECTION_DESTINATION_IP";
    case NotifyType::kCookie:
      return "COOKIE";
    case NotifyType::kUseTransportMode:
      return "USE_TRANSPORT_MODE";
    case NotifyType::kHttpCertLookupSupported:
      return "HTTP_CERT_LOOKUP_SUPPORTED";
    case NotifyType::kRekeySa:
      return "REKEY_SA";
    case NotifyType::kEspTfcPaddingNotSupported:
      return "ESP_TFC_PADDING_NOT_SUPPORTED";
    case NotifyType::kNonFirstFragmentsAlso:
      return "NON_FIRST_FRAGMENTS_ALSO";
    case NotifyType::kMobikeSupported:
      return "MOBIKE_SUPPORTED";
    case NotifyType::kAdditionalIp4Address:
      return "ADDITIONAL_IP4_ADDRESS";
    case NotifyType::kAdditionalIp6Address:
      return "ADDITIONAL_IP6_ADDRESS";
    case NotifyType::kNoAdditionalAddresses:
      return "NO_ADDITIONAL_ADDRESSES";
    case NotifyType::kUpdateSaAddresses:
      return "UPDATE_SA_ADDRESSES";
    case NotifyType::kCookie2:
      return "COOKIE2";
    case NotifyType::kNoNatsAllowed:
      return "NO_NATS_ALLOWED";
    case NotifyType::kAuthLifetime:
      return "AUTH_LIFETIME";
    case NotifyType::kMultipleAuthSupported:
      return "MULTIPLE_AUTH_SUPPORTED";
    case NotifyType::kAnotherAuthFollows:
      return "ANOTHER_AUTH_FOLLOWS";
    case NotifyType::kRedirectSupported:
      return "REDIRECT_SUPPORTED";
    case NotifyType::kRedirect:
      return "REDIRECT";
    case NotifyType::kRedirectedFrom:
      return "REDIRECTED_FROM";
    case NotifyType::kTicketLtOpaque:
      return "TICKET_LT_OPAQUE";
    case NotifyType::kTicketRequest:
      return "TICKET_REQUEST";
    case NotifyType::kTicketAck:
      return "TICKET_ACK";
    case NotifyType::kTicketNack:
      return "TICKET_NACK";
    case NotifyType::kTicketOpaque:
      return "TICKET_OPAQUE";
    case NotifyType::kLinkId:
      return "LINK_ID";
    case NotifyType::kUseWespMode:
      return "USE_WESP_MODE";
    case NotifyType::kRohcSupported:
      return "ROHC_SUPPORTED";
    case NotifyType::kEapOnlyAuthentication:
      return "EAP_ONLY_AUTHENTICATION";
    case NotifyType::kChildlessIkev2Supported:
      return "CHILDLESS_IKEV2_SUPPORTED";
    case NotifyType::kQuickCrashDetection:
      return "QUICK_CRASH_DETECTION";
    case NotifyType::kIkev2MessageIdSyncSupported:
      return "IKEV2_MESSAGE_ID_SYNC_SUPPORTED";
    case NotifyType::kIpsecReplayCounterSyncSupported:
      return "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED";
    case NotifyType::kIkev2MessageIdSync:
      return "IKEV2_MESSAGE_ID_SYNC";
    case NotifyType::kIpsecReplayCounterSync:
      return "IPSEC_REPLAY_COUNTER_SYNC";
    case NotifyType::kSecurePasswordMethods:
      return "SECURE_PASSWORD_METHODS";
    case NotifyType::kPskPersist:
      return "PSK_PERSIST";
    case NotifyType::kPskConfirm:
      return "PSK_CONFIRM";
    case NotifyType::kErxSupported:
      return "ERX_SUPPORTED";
    case NotifyType::kIfomCapability:
      return "IFOM_CAPABILITY";
    case NotifyType::kSenderRequestId:
      return "SENDER_REQUEST_ID";
    case NotifyType::kIkev2FragmentationSupported:
      return "IKEV2_FRAGMENTATION_SUPPORTED";
    case NotifyType::kSignatureHashAlgorithms:
      return "SIGNATURE_HASH_ALGORITHMS";
    case NotifyType::kCloneIkeSaSupported:
      return "CLONE_IKE_SA_SUPPORTED";
    case NotifyType::kCloneIkeSa:
      return "CLONE_IKE_SA";
    case NotifyType::kPuzzle:
      return "PUZZLE";
    case NotifyType::kUsePpk:
      return "USE_PPK";
    case NotifyType::kPpkIdentity:
      return "PPK_IDENTITY";
    case NotifyType::kNoPpkAuth:
      return "NO_PPK_AUTH";
    case NotifyType::kIntermediateExchangeSupported:
      return "INTERMEDIATE_EXCHANGE_SUPPORTED";
  }
  return "";
}

// The short forms strongSwan and libreswan print in exchange summaries.
std::string_view notify_short_name(NotifyType type) {
  switch (type) {
    case NotifyType::kNatDetectionSourceIp:
      return "NATD_S_IP";
    case NotifyType::kNatDetectionDestinationIp:
      return "NATD_D_IP";
    case NotifyType::kIkev2FragmentationSupported:
      return "FRAG_SUP";
    case NotifyType::kSignatureHashAlgorithms:
      return "HASH_ALG";
    case NotifyType::kMultipleAuthSupported:
      return "MULT_AUTH";
    default:
      return notify_known_name(type);
  }
}

}  // namespace

std::string_view exchange_name(ExchangeType type) {
  switch (type) {
    case ExchangeType::kIkeSaInit:
      return "IKE_SA_INIT";
    case ExchangeType::kIkeAuth:
      return "IKE_AUTH";
    case ExchangeType::kCreateChildSa:
      return "CREATE_CHILD_SA";
    case ExchangeType::kInformational:
      return "INFORMATIONAL";
    case ExchangeType::kIkeSessionResume:
      return "IKE_SESSION_RESUME";
    case ExchangeType::kIkeIntermediate:
      return "IKE_INTERMEDIATE";
    case ExchangeType::kIkeFollowupKe:
      return "IKE_FOLLOWUP_KE";
  }
  return "";
}

std::string payload_name(uint8_t type) {
  switch (static_cast<PayloadType>(type)) {
    case PayloadType::kNonce:
      return "Nonce";
    case PayloadType::kNotify:
      return "Notify";
    case PayloadType::kDelete:
      return "Delete";
    case PayloadType::kVendorId:
      return "Vendor ID";
    case PayloadType::kNone:
      return "none";
    default:
      break;
  }
  std::string_view s = payload_short_name(static_cast<PayloadType>(type));
  if (!s.empty()) {
    return std::string(s);
  }
  return "type " + std::to_string(type);
}

std::string notify_name(NotifyType type) {
  std::string_view s = notify_known_name(type);
  if (!s.empty()) {
    return std::string(s);
  }
  return "notify " + std::to_string(static_cast<uint16_t>(type));
}

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncatedHeader:
      return "truncated header";
    case ErrorCode::kInvalidMajorVersion:
      return "invalid major version";
    case ErrorCode::kLengthMismatch:
      return "length mismatch";
    case ErrorCode::kTruncatedPayload:
      return "truncated payload";
    case ErrorCode::kPayloadTooShort:
      return "payload too short";
    case ErrorCode::kPayloadOverrun:
      return "payload overrun";
    case ErrorCode::kMalformedPayload:
      return "malformed payload";
    case ErrorCode::kUnsupportedCriticalPayload:
      return "unsupported critical payload";
    case ErrorCode::kTrailingBytes:
      return "trailing bytes";
    case ErrorCode::kMisplacedEncrypted:
      return "misplaced encrypted payload";
    case ErrorCode::kUnencodable:
      return "unencodable";
  }
  return "unknown error";
}

std::string summary(const Message& message) {
  const Header& h = message.header;
  std::string out;
  std::string_view exchange = exchange_name(h.exchange);
  if (exchange.empty()) {
    out = "exchange " + std::to_string(static_cast<unsigned>(h.exchange));
  } else {
    out = std::string(exchange);
  }
  out += h.response ? " response " : " request ";
  out += std::to_string(h.message_id);
  out += " [";
  for (const Payload& p : message.payloads) {
    out += ' ';
    if (const auto* n = std::get_if<NotifyPayload>(&p)) {
      std::string_view s = notify_short_name(n->type);
      out += "N(";
      out += s.empty() ? std::to_string(static_cast<uint16_t>(n->type)) : std::string(s);
      out += ')';
    } else if (const auto* u = std::get_if<UnknownPayload>(&p)) {
      out += "U(" + std::to_string(u->type) + ")";
    } else {
      out += payload_short_name(payload_type(p));
    }
  }
  out += " ]";
  return out;
}

}  // namespace ipsecd::engine::wire
