#pragma once
// The algorithms an IKE or CHILD SA ends up with (IANA transform IDs), and
// their names as status, metrics and logs show them: "AES_GCM_16_256",
// "PRF_HMAC_SHA2_256", "HMAC_SHA2_256_128", and the groups as libreswan names
// them ("MODP2048", "DH19", "DH31").

#include <string>

#include "model/proposals.h"

namespace ipsecd::engine {

struct IkeAlgorithms {
  model::EncrAlg encr{model::EncrId::kAesGcm16, 256};
  model::PrfId prf = model::PrfId::kHmacSha2_256;
  model::IntegId integ = model::IntegId::kNone;
  model::DhId dh = model::DhId::kNone;
  // "AES_GCM_16_256/PRF_HMAC_SHA2_256/DH31"; the integrity algorithm
  // between PRF and group when there is one.
  std::string str() const;
  bool operator==(const IkeAlgorithms&) const = default;
};

struct EspAlgorithms {
  model::EncrAlg encr{model::EncrId::kAesGcm16, 256};
  model::IntegId integ = model::IntegId::kNone;
  model::DhId dh = model::DhId::kNone;  // PFS group of a CREATE_CHILD_SA
  bool esn = false;
  // "AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/ESN", absent parts left out.
  std::string str() const;
  bool operator==(const EspAlgorithms&) const = default;
};

// "AES_GCM_16_256", "AES_CBC_128", "CHACHA20_POLY1305": the IANA name with the
// key size when the algorithm takes one.
std::string encr_label(const model::EncrAlg& encr);
// "PRF_HMAC_SHA2_256".
std::string prf_label(model::PrfId prf);
// "" for none, else the IANA name ("HMAC_SHA2_256_128").
std::string integ_label(model::IntegId integ);
// "" for none, else libreswan's name ("MODP2048", "DH31").
std::string dh_label(model::DhId dh);

}  // namespace ipsecd::engine
