#include "engine/proposal_selection.h"

#include <algorithm>

#include "engine/crypto/key_exchange.h"
#include "engine/crypto/prf.h"
#include "engine/crypto/sk_cipher.h"

namespace ipsecd::engine {
namespace {

using wire::Transform;
using wire::TransformType;

Transform transform(TransformType type, uint16_t id, uint16_t key_bits = 0) {
  Transform t;
  t.type = type;
  t.id = id;
  if (key_bits != 0) {
    t.key_length = key_bits;
  }
  return t;
}

bool same(const Transform& a, const Transform& b) {
  return a.type == b.type && a.id == b.id && a.key_length == b.key_length &&
         a.attributes == b.attributes;
}

bool ike_encr_supported(model::EncrAlg e) {
  return crypto::SkCipher::supported({e.id, e.key_bits, model::IntegId::kNone}) ||
         crypto::SkCipher::supported({e.id, e.key_bits, model::IntegId::kHmacSha2_256_128});
}

bool ike_integ_supported(model::IntegId i) {
  return crypto::SkCipher::supported({model::EncrId::kAesCbc, 128, i});
}

model::ProposalList parse_default(model::ProposalKind kind, const char* text) {
  auto parsed = model::parse_proposals(kind, text);
  // A constant that does not parse is a build defect, not input.
  if (!parsed.ok()) {
    std::abort();
  }
  return std::make_shared<const std::vector<model::Proposal>>(parsed.value());
}

template <class Pred>
std::vector<Transform> picked(const std::vector<Transform>& offered, TransformType type,
                              const Pred& acceptable) {
  std::vector<Transform> out;
  for (const auto& t : offered) {
    if (t.type == type && acceptable(t)) {
      out.push_back(t);
    }
  }
  return out;
}

}  // namespace

const model::ProposalList& default_ike_proposals() {
  static const model::ProposalList list =
      parse_default(model::ProposalKind::kIke,
                    "aes_gcm256-sha2_256;dh31+dh19+dh14,aes256-sha2_256;dh31+dh19+dh14");
  return list;
}

const model::ProposalList& default_esp_proposals() {
  static const model::ProposalList list =
      parse_default(model::ProposalKind::kEsp, "aes_gcm256,chacha20_poly1305,aes256-sha2_256");
  return list;
}

std::optional<kernel::Cipher> kernel_cipher(model::EncrAlg encr) {
  switch (encr.id) {
    case model::EncrId::kAesGcm16:
      if (encr.key_bits == 128) {
        return kernel::Cipher::kAesGcm16_128;
      }
      if (encr.key_bits == 256) {
        return kernel::Cipher::kAesGcm16_256;
      }
      return std::nullopt;
    case model::EncrId::kChaCha20Poly1305:
      return kernel::Cipher::kChaCha20Poly1305;
    case model::EncrId::kAesCbc:
      if (encr.key_bits == 128) {
        return kernel::Cipher::kAesCbc128;
      }
      if (encr.key_bits == 256) {
        return kernel::Cipher::kAesCbc256;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<kernel::Integrity> kernel_integrity(model::IntegId integ) {
  switch (integ) {
    case model::IntegId::kNone:
      return kernel::Integrity::kNone;
    case model::IntegId::kHmacSha2_256_128:
      return kernel::Integrity::kHmacSha256_128;
    case model::IntegId::kHmacSha2_384_192:
      return kernel::Integrity::kHmacSha384_192;
    case model::IntegId::kHmacSha2_512_256:
      return kernel::Integrity::kHmacSha512_256;
    default:
      return std::nullopt;
  }
}

wire::SaPayload ike_offer(const std::vector<model::Proposal>& proposals) {
  wire::SaPayload sa;
  for (const auto& p : proposals) {
    wire::Proposal w;
    w.protocol = wire::ProtocolId::kIke;
    bool aead = false;
    bool plain = false;
    for (const auto& e : p.encr) {
      if (ike_encr_supported(e)) {
        w.transforms.push_back(
            transform(TransformType::kEncryption, static_cast<uint16_t>(e.id), e.key_bits));
        (model::is_aead(e.id) ? aead : plain) = true;
      }
    }
    std::size_t before = w.transforms.size();
    for (auto prf : p.prf) {
      if (crypto::Prf::supported(prf)) {
        w.transforms.push_back(transform(TransformType::kPrf, static_cast<uint16_t>(prf)));
      }
    }
    bool have_prf = w.transforms.size() > before;
    bool have_integ = false;
    if (plain) {
      for (auto i : p.integ) {
        if (i != model::IntegId::kNone && ike_integ_supported(i)) {
          w.transforms.push_back(transform(TransformType::kIntegrity, static_cast<uint16_t>(i)));
          have_integ = true;
        }
      }
    }
    bool have_dh = false;
    for (auto g : p.dh) {
      if (crypto::KeyExchange::supported(g)) {
        w.transforms.push_back(transform(TransformType::kKeyExchange, static_cast<uint16_t>(g)));
        have_dh = true;
      }
    }
    // Mixing AEAD and plain ciphers in one proposal is not allowed (RFC 5282 8).
    if ((aead || (plain && have_integ)) && !(aead && plain) && have_prf && have_dh) {
      w.number = static_cast<uint8_t>(sa.proposals.size() + 1);
      sa.proposals.push_back(std::move(w));
    }
  }
  return sa;
}

wire::SaPayload esp_offer(const std::vector<model::Proposal>& proposals, uint32_t spi, bool with_dh,
                          model::Tristate esn) {
  wire::SaPayload sa;
  std::vector<uint8_t> spi_octets = {static_cast<uint8_t>(spi >> 24),
                                     static_cast<uint8_t>(spi >> 16),
                                     static_cast<uint8_t>(spi >> 8), static_cast<uint8_t>(spi)};
  for (const auto& p : proposals) {
    wire::Proposal w;
    w.protocol = wire::ProtocolId::kEsp;
    w.spi = spi_octets;
    bool aead = false;
    bool plain = false;
    for (const auto& e : p.encr) {
      if (kernel_cipher(e)) {
        w.transforms.push_back(
            transform(TransformType::kEncryption, static_cast<uint16_t>(e.id), e.key_bits));
        (model::is_aead(e.id) ? aead : plain) = true;
      }
    }
    bool have_integ = false;
    if (plain) {
      for (auto i : p.integ) {
        if (i != model::IntegId::kNone && kernel_integrity(i)) {
          w.transforms.push_back(transform(TransformType::kIntegrity, static_cast<uint16_t>(i)));
          have_integ = true;
        }
      }
    }
    if (with_dh) {
      for (auto g : p.dh) {
        if (crypto::KeyExchange::supported(g)) {
          w.transforms.push_back(transform(TransformType::kKeyExchange, static_cast<uint16_t>(g)));
        }
      }
    }
    if (esn != model::Tristate::kYes) {
      w.transforms.push_back(transform(TransformType::kEsn, 0));
    }
    if (esn != model::Tristate::kNo) {
      w.transforms.push_back(transform(TransformType::kEsn, 1));
    }
    if ((aead || (plain && have_integ)) && !(aead && plain)) {
      w.number = static_cast<uint8_t>(sa.proposals.size() + 1);
      sa.proposals.push_back(std::move(w));
    }
  }
  return sa;
}

std::optional<wire::Proposal> choose(const wire::SaPayload& offered, const wire::SaPayload& ours,
                                     wire::ProtocolId protocol, uint16_t ke_group) {
  for (const auto& theirs : offered.proposals) {
    if (theirs.protocol != protocol) {
      continue;
    }
    for (const auto& mine : ours.proposals) {
      auto in_mine = [&mine](const Transform& t) {
        return std::any_of(mine.transforms.begin(), mine.transforms.end(),
                           [&t](const Transform& m) { return same(m, t); });
      };
      auto encr = picked(theirs.transforms, TransformType::kEncryption, in_mine);
      if (encr.empty()) {
        continue;
      }
      wire::Proposal chosen;
      chosen.number = theirs.number;
      chosen.protocol = theirs.protocol;
      chosen.spi = theirs.spi;
      chosen.transforms.push_back(encr.front());
      const bool aead = model::is_aead(static_cast<model::EncrId>(encr.front().id));
      if (protocol == wire::ProtocolId::kIke) {
        auto prf = picked(theirs.transforms, TransformType::kPrf, in_mine);
        if (prf.empty()) {
          continue;
        }
        chosen.transforms.push_back(prf.front());
      }
      if (!aead) {
        auto integ = picked(theirs.transforms, TransformType::kIntegrity, in_mine);
        if (integ.empty()) {
          continue;
        }
        chosen.transforms.push_back(integ.front());
      }
      auto theirs_has = [&theirs](TransformType type) {
        return std::any_of(theirs.transforms.begin(), theirs.transforms.end(),
                           [type](const Transform& t) { return t.type == type; });
      };
      auto mine_has = [&mine](TransformType type) {
        return std::any_of(mine.transforms.begin(), mine.transforms.end(),
                           [type](const Transform& t) { return t.type == type; });
      };
      // KE: required for IKE; for ESP only when both sides ask for PFS.
      if (protocol == wire::ProtocolId::kIke ||
          (theirs_has(TransformType::kKeyExchange) && mine_has(TransformType::kKeyExchange))) {
        auto groups = picked(theirs.transforms, TransformType::kKeyExchange, in_mine);
        if (groups.empty()) {
          continue;
        }
        auto it = std::find_if(groups.begin(), groups.end(),
                               [ke_group](const Transform& t) { return t.id == ke_group; });
        chosen.transforms.push_back(it != groups.end() ? *it : groups.front());
      } else if (theirs_has(TransformType::kKeyExchange)) {
        // They ask for PFS and we have none configured: only a NONE group would do.
        auto none = picked(theirs.transforms, TransformType::kKeyExchange,
                           [](const Transform& t) { return t.id == 0; });
        if (none.empty()) {
          continue;
        }
      }
      if (protocol == wire::ProtocolId::kEsp) {
        auto esn = picked(theirs.transforms, TransformType::kEsn, in_mine);
        if (esn.empty()) {
          continue;
        }
        chosen.transforms.push_back(esn.front());
      }
      return chosen;
    }
  }
  return std::nullopt;
}

namespace {

struct Picked {
  std::optional<Transform> encr, prf, integ, ke, esn;
};

model::Result<Picked> pick_one_each(const wire::Proposal& p) {
  Picked out;
  for (const auto& t : p.transforms) {
    std::optional<Transform>* slot = nullptr;
    switch (t.type) {
      case TransformType::kEncryption:
        slot = &out.encr;
        break;
      case TransformType::kPrf:
        slot = &out.prf;
        break;
      case TransformType::kIntegrity:
        slot = &out.integ;
        break;
      case TransformType::kKeyExchange:
        slot = &out.ke;
        break;
      case TransformType::kEsn:
        slot = &out.esn;
        break;
      default:
        return model::Result<Picked>::failure("the chosen proposal has transform type " +
                                              std::to_string(static_cast<unsigned>(t.type)) +
                                              ", which was not offered");
    }
    if (*slot) {
      return model::Result<Picked>::failure(
          "the chosen proposal has more than one transform of type " +
          std::to_string(static_cast<unsigned>(t.type)) + "; a choice has exactly one of each");
    }
    *slot = t;
  }
  if (!out.encr) {
    return model::Result<Picked>::failure("the chosen proposal has no encryption transform");
  }
  return out;
}

}  // namespace

model::Result<IkeAlgorithms> ike_algorithms(const wire::Proposal& chosen) {
  using R = model::Result<IkeAlgorithms>;
  auto p = pick_one_each(chosen);
  if (!p.ok()) {
    return R::failure(p.error());
  }
  if (!p->prf || !p->ke) {
    return R::failure("the chosen IKE proposal lacks a PRF or a key exchange transform");
  }
  IkeAlgorithms a;
  a.encr = {static_cast<model::EncrId>(p->encr->id), p->encr->key_length.value_or(0)};
  a.prf = static_cast<model::PrfId>(p->prf->id);
  a.integ = p->integ ? static_cast<model::IntegId>(p->integ->id) : model::IntegId::kNone;
  a.dh = static_cast<model::DhId>(p->ke->id);
  if (!model::is_aead(a.encr.id) && a.integ == model::IntegId::kNone) {
    return R::failure("the chosen IKE proposal has a non-AEAD cipher and no integrity algorithm");
  }
  return a;
}

model::Result<EspAlgorithms> esp_algorithms(const wire::Proposal& chosen) {
  using R = model::Result<EspAlgorithms>;
  auto p = pick_one_each(chosen);
  if (!p.ok()) {
    return R::failure(p.error());
  }
  if (chosen.spi.size() != 4) {
    return R::failure("the chosen ESP proposal has a " + std::to_string(chosen.spi.size()) +
                      "-octet SPI; ESP needs 4");
  }
  EspAlgorithms a;
  a.encr = {static_cast<model::EncrId>(p->encr->id), p->encr->key_length.value_or(0)};
  a.integ = p->integ ? static_cast<model::IntegId>(p->integ->id) : model::IntegId::kNone;
  a.dh = p->ke ? static_cast<model::DhId>(p->ke->id) : model::DhId::kNone;
  a.esn = p->esn && p->esn->id == 1;
  if (!kernel_cipher(a.encr) || !kernel_integrity(a.integ)) {
    return R::failure("the chosen ESP algorithms " + a.str() +
                      " are not supported by the kernel backend");
  }
  if (!model::is_aead(a.encr.id) && a.integ == model::IntegId::kNone) {
    return R::failure("the chosen ESP proposal has a non-AEAD cipher and no integrity algorithm");
  }
  return a;
}

model::Result<wire::Proposal> check_answer(const wire::SaPayload& answer,
                                           const wire::SaPayload& offered) {
  using R = model::Result<wire::Proposal>;
  if (answer.proposals.size() != 1) {
    return R::failure("the peer answered with " + std::to_string(answer.proposals.size()) +
                      " proposals; it must choose exactly one");
  }
  const auto& chosen = answer.proposals.front();
  auto it = std::find_if(offered.proposals.begin(), offered.proposals.end(),
                         [&chosen](const wire::Proposal& p) { return p.number == chosen.number; });
  if (it == offered.proposals.end() || it->protocol != chosen.protocol) {
    return R::failure("the peer chose proposal " + std::to_string(chosen.number) +
                      ", which was not offered");
  }
  for (const auto& t : chosen.transforms) {
    bool offered_it = std::any_of(it->transforms.begin(), it->transforms.end(),
                                  [&t](const Transform& o) { return same(o, t); });
    if (!offered_it) {
      return R::failure("the peer chose transform type " +
                        std::to_string(static_cast<unsigned>(t.type)) + " id " +
                        std::to_string(t.id) + ", which proposal " + std::to_string(chosen.number) +
                        " did not offer");
    }
  }
  return chosen;
}

wire::Proposal ike_proposal(const IkeAlgorithms& a) {
  wire::Proposal p;
  p.protocol = wire::ProtocolId::kIke;
  p.transforms.push_back(
      transform(TransformType::kEncryption, static_cast<uint16_t>(a.encr.id), a.encr.key_bits));
  p.transforms.push_back(transform(TransformType::kPrf, static_cast<uint16_t>(a.prf)));
  if (a.integ != model::IntegId::kNone) {
    p.transforms.push_back(transform(TransformType::kIntegrity, static_cast<uint16_t>(a.integ)));
  }
  p.transforms.push_back(transform(TransformType::kKeyExchange, static_cast<uint16_t>(a.dh)));
  return p;
}

std::string describe(const wire::SaPayload& payload) {
  std::string out;
  for (const auto& p : payload.proposals) {
    out += out.empty() ? "" : ", ";
    std::string one;
    for (const auto& t : p.transforms) {
      one += one.empty() ? "" : "-";
      switch (t.type) {
        case TransformType::kEncryption:
          one += std::string(model::encr_name(static_cast<model::EncrId>(t.id)));
          if (t.key_length) {
            one += "_" + std::to_string(*t.key_length);
          }
          break;
        case TransformType::kPrf:
          one += "PRF_" + std::string(model::prf_name(static_cast<model::PrfId>(t.id)));
          break;
        case TransformType::kIntegrity:
          one += std::string(model::integ_name(static_cast<model::IntegId>(t.id)));
          break;
        case TransformType::kKeyExchange:
          one += std::string(model::dh_name(static_cast<model::DhId>(t.id)));
          break;
        case TransformType::kEsn:
          one += t.id == 1 ? "ESN" : "NO_ESN";
          break;
        default:
          one += "T" + std::to_string(static_cast<unsigned>(t.type)) + ":" + std::to_string(t.id);
      }
    }
    out += one.empty() ? "(empty)" : one;
  }
  return out.empty() ? "(none)" : out;
}

bool offers_group(const wire::SaPayload& offer, uint16_t group) {
  for (const auto& p : offer.proposals) {
    for (const auto& t : p.transforms) {
      if (t.type == wire::TransformType::kKeyExchange && t.id == group) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace ipsecd::engine
