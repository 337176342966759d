#include "bench/bench.h"

#include <sys/utsname.h>

#include <cstdio>
#include <fstream>
#include <thread>

namespace ipsecd::bench {

void print_machine(const std::string& note) {
  std::string model = "unknown";
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::string load;
  std::ifstream loadavg("/proc/loadavg");
  std::getline(loadavg, load);
  utsname u{};
  uname(&u);
  std::printf("machine: nproc=%u cpu=\"%s\" kernel=%s %s load=%s%s%s\n",
              std::thread::hardware_concurrency(), model.c_str(), u.sysname, u.release,
              load.substr(0, load.find(' ', load.find(' ', load.find(' ') + 1) + 1)).c_str(),
              note.empty() ? "" : "; ", note.c_str());
}

}  // namespace ipsecd::bench
