#include "engine/algorithms.h"

namespace ipsecd::engine {

std::string encr_label(const model::EncrAlg& encr) {
  std::string s(model::encr_name(encr.id));
  if (encr.key_bits != 0) {
    s += '_';
    s += std::to_string(encr.key_bits);
  }
  return s;
}

std::string prf_label(model::PrfId prf) {
  return "PRF_" + std::string(model::prf_name(prf));
}

std::string integ_label(model::IntegId integ) {
  return integ == model::IntegId::kNone ? std::string() : std::string(model::integ_name(integ));
}

std::string dh_label(model::DhId dh) {
  return dh == model::DhId::kNone ? std::string() : std::string(model::dh_name(dh));
}

std::string IkeAlgorithms::str() const {
  std::string s = encr_label(encr) + "/" + prf_label(prf);
  if (integ != model::IntegId::kNone) {
    s += "/" + integ_label(integ);
  }
  s += "/" + std::string(model::dh_name(dh));
  return s;
}

std::string EspAlgorithms::str() const {
  std::string s = encr_label(encr);
  if (integ != model::IntegId::kNone) {
    s += "/" + integ_label(integ);
  }
  if (dh != model::DhId::kNone) {
    s += "/" + dh_label(dh);
  }
  if (esn) {
    s += "/ESN";
  }
  return s;
}

}  // namespace ipsecd::engine
