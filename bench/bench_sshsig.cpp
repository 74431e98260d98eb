// bench/sshsig.sh: native SSHSIG verification of N signature files (DIR/NNNN.sig over
// DIR/NNNN) by the key in DIR/key.pub, for namespace shipshape-signoff. Prints the count and the
// wall time; exit 1 if any signature fails to verify. Plain main: one timed pass.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "os/file_system.hpp"
#include "release/sshsig.hpp"

namespace {

std::string read(const std::string& path) {
    return shipshape::os::read_whole_file(path).value_or("");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench_sshsig DIR N\n");
        return 2;
    }
    const std::string dir = argv[1];
    const int n = std::stoi(argv[2]);
    auto start = std::chrono::steady_clock::now();
    auto key = shipshape::release::parse_public_key(read(dir + "/key.pub"));
    if (!key) {
        std::fprintf(stderr, "%s\n", key.error().message().c_str());
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < n; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "/%04d", i);
        auto sig = shipshape::release::parse_sshsig(read(dir + name + ".sig"));
        bool ok = sig && sig->public_key == *key &&
                  shipshape::release::verify_sshsig(*sig, read(dir + name), "shipshape-signoff");
        bad += ok ? 0 : 1;
    }
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("verified %d signatures in %.1f ms (%d failed)\n", n, ms, bad);
    return bad == 0 ? 0 : 1;
}
