// bench/sshsig.sh: native SSHSIG verification of N signature files (DIR/NNNN.sig over
// DIR/NNNN) by the key in DIR/key.pub, for namespace shipshape-signoff, through
// verify_sshsig_batch on THREADS threads (default 0: one per core). Timed, all in one span:
// reading key.pub and the 2N files, parsing the key and the N armored signatures, comparing each
// signer with the key, and the batch verification. Prints the count, the wall time of that span
// and its three parts; exit 1 if any signature fails to verify. Plain main: one timed pass.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "os/file_system.hpp"
#include "release/sshsig.hpp"

namespace {

std::string read(const std::string& path) {
    return shipshape::os::read_whole_file(path).value_or("");
}

double ms_between(std::chrono::steady_clock::time_point a,
                  std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) {
        std::fprintf(stderr, "usage: bench_sshsig DIR N [THREADS]\n");
        return 2;
    }
    namespace release = shipshape::release;
    const std::string dir = argv[1];
    const int n = std::stoi(argv[2]);
    const unsigned threads = argc == 4 ? static_cast<unsigned>(std::stoul(argv[3])) : 0;
    const auto count = static_cast<size_t>(n);

    auto start = std::chrono::steady_clock::now();
    std::string key_text = read(dir + "/key.pub");
    std::vector<std::string> armored;
    std::vector<std::string> messages;
    armored.reserve(count);
    messages.reserve(count);
    for (int i = 0; i < n; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "/%04d", i);
        armored.push_back(read(dir + name + ".sig"));
        messages.push_back(read(dir + name));
    }
    auto read_done = std::chrono::steady_clock::now();

    auto key = release::parse_public_key(key_text);
    if (!key) {
        std::fprintf(stderr, "%s\n", key.error().message().c_str());
        return 1;
    }
    int bad = 0;
    std::vector<release::SshSignature> sigs;
    std::vector<release::SshsigCheck> checks;
    sigs.reserve(count);
    checks.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        auto sig = release::parse_sshsig(armored[i]);
        if (!sig || sig->public_key != *key) {
            ++bad;
            continue;
        }
        sigs.push_back(std::move(*sig));
        checks.push_back({&sigs.back(), messages[i], "shipshape-signoff"});
    }
    auto parse_done = std::chrono::steady_clock::now();

    for (const auto& verdict : release::verify_sshsig_batch(checks, threads)) {
        bad += verdict ? 0 : 1;
    }
    auto end = std::chrono::steady_clock::now();
    std::printf(
        "verified %d signatures in %.1f ms (%d failed; read %.1f ms, parse %.1f ms, verify %.1f "
        "ms)\n",
        n, ms_between(start, end), bad, ms_between(start, read_done),
        ms_between(read_done, parse_done), ms_between(parse_done, end));
    return bad == 0 ? 0 : 1;
}
