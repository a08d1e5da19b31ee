#include "vouch/collateral/pcs_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "absl/time/clock.h"

namespace vouch::collateral {
namespace {

void WriteAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    sent += static_cast<size_t>(n);
  }
}

// ReadTarget reads the request head (GET requests have no body) and returns
// the target of the request line, or "" on failure.
std::string ReadTarget(int fd) {
  std::string data;
  char buffer[4096];
  while (data.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0 || data.size() > (1 << 20)) {
      return "";
    }
    data.append(buffer, static_cast<size_t>(n));
  }
  const size_t space1 = data.find(' ');
  const size_t space2 = data.find(' ', space1 + 1);
  if (space1 == std::string::npos || space2 == std::string::npos) {
    return "";
  }
  return data.substr(space1 + 1, space2 - space1 - 1);
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

PcsTestServer::PcsTestServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    std::perror("pcs test server: bind 127.0.0.1:0");
    std::abort();
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

PcsTestServer::~PcsTestServer() {
  stopping_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::vector<std::string> PcsTestServer::targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

void PcsTestServer::Serve() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) {
      continue;
    }
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    const std::string target = ReadTarget(fd);
    if (!target.empty()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        targets_.push_back(target);
      }
      const PcsTestReply reply = handler_(target);
      if (reply.delay > absl::ZeroDuration()) {
        absl::SleepFor(reply.delay);
      }
      std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Status\r\n";
      for (const auto& [name, value] : reply.headers) {
        head += name + ": " + value + "\r\n";
      }
      head += "Content-Length: " + std::to_string(reply.body.size()) +
              "\r\nConnection: close\r\n\r\n";
      WriteAll(fd, head + reply.body);
    }
    ::close(fd);
  }
}

}  // namespace vouch::collateral
