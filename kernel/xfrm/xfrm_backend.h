// kernel::Backend on Linux XFRM over netlink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernel/backend.h"

namespace ipsecd::kernel {

// An open NETLINK_XFRM socket; closed on destruction.
class NetlinkSocket {
 public:
  NetlinkSocket() = default;
  explicit NetlinkSocket(int fd) : fd_(fd) {}
  NetlinkSocket(NetlinkSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  NetlinkSocket& operator=(NetlinkSocket&& o) noexcept;
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  ~NetlinkSocket();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

class XfrmBackend final : public Backend {
 public:
  // Opens the request and event sockets in the caller's network namespace.
  static Result<std::unique_ptr<XfrmBackend>> open(Ownership ownership = {});

  Result<uint32_t> allocate_spi(const Address& src, const Address& dst, uint32_t reqid,
                                uint32_t min = 0x100, uint32_t max = 0xffffffff) override;
  Status add_sa(const SaSpec& spec) override;
  Status update_sa(const SaSpec& spec) override;
  Status delete_sa(const SaId& id) override;
  Result<SaState> get_sa(const SaId& id) override;
  Result<std::vector<SaState>> list_sas() override;

  Status add_policy(const PolicySpec& spec) override;
  Status update_policy(const PolicySpec& spec) override;
  Status delete_policy(const PolicyId& id) override;
  Result<PolicyState> get_policy(const PolicyId& id) override;
  Result<std::vector<PolicyState>> list_policies() override;

  std::vector<Status> apply(const Batch& batch) override;

  int event_fd() const override { return events_.fd(); }
  std::vector<Event> read_events(std::chrono::milliseconds timeout) override;

  const Ownership& ownership() const override { return own_; }

  // One kernel answer to one request: errno (0 = success), extended-ack text, reply payload.
  struct Reply {
    int err = 0;
    std::string ext_ack;
    std::vector<uint8_t> message;  // a reply message (GET, ALLOCSPI), header included
  };

 private:
  XfrmBackend(Ownership own, NetlinkSocket requests, NetlinkSocket events);
  // Sends all requests in as few datagrams as fit, then collects one Reply per request.
  std::vector<Reply> transact(std::vector<std::vector<uint8_t>>& requests);
  Result<std::vector<std::vector<uint8_t>>> dump(uint16_t type, std::string_view what);
  Status apply_one(Batch::Op op);

  Ownership own_;
  NetlinkSocket requests_;
  NetlinkSocket events_;
  uint32_t seq_ = 1;
  std::vector<uint8_t> rx_;
};

}  // namespace ipsecd::kernel
