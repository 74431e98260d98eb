#include "fleet/agent_binary.hpp"

#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "core/text.hpp"
#include "os/errno_error.hpp"
#include "os/self_exe.hpp"

namespace shipshape::fleet {

namespace {

// The GNU build id the linker put into this executable: a hash of its content, so a new build
// gets a new agent name. Empty when the binary has none.
std::string build_id() {
    std::string out;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) -> int {
            auto& id = *static_cast<std::string*>(data);
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const auto& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_NOTE) {
                    continue;
                }
                // The loader hands out addresses as integers.
                const ElfW(Addr) at = info->dlpi_addr + ph.p_vaddr;
                // NOLINTNEXTLINE(performance-no-int-to-ptr)
                const auto* p = reinterpret_cast<const unsigned char*>(at);
                const auto* end = p + ph.p_memsz;
                while (p + sizeof(ElfW(Nhdr)) <= end) {
                    const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
                    const unsigned char* name = p + sizeof(ElfW(Nhdr));
                    const unsigned char* desc = name + ((n->n_namesz + 3) & ~3u);
                    if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
                        std::memcmp(name, "GNU", 4) == 0) {
                        id = to_hex(std::span<const unsigned char>(desc, n->n_descsz));
                        return 1;
                    }
                    p = desc + ((n->n_descsz + 3) & ~3u);
                }
            }
            return 1;  // only the first object: the executable itself
        },
        &out);
    return out;
}

}  // namespace

namespace {

// The XXH3 of a file's content, as 16 hex digits.
Result<std::string> content_hash(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(os::errno_error("opening " + path, errno));
    }
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    std::vector<char> chunk(1 << 20);
    int err = 0;
    for (;;) {
        ssize_t r = ::read(fd, chunk.data(), chunk.size());
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            err = errno;
        }
        if (r <= 0) {
            break;
        }
        XXH3_64bits_update(st, chunk.data(), static_cast<size_t>(r));
    }
    ::close(fd);
    std::string hash = hex64(XXH3_64bits_digest(st));
    XXH3_freeState(st);
    if (err != 0) {
        return fail(os::errno_error("reading " + path, err));
    }
    return hash;
}

}  // namespace

Result<AgentBinary> this_binary(const std::string& version) {
    AgentBinary b;
    b.path = os::self_exe();
    if (b.path.empty()) {
        return fail(os::errno_error("reading /proc/self/exe", errno));
    }
    b.version = version;
    std::string id = build_id();
    if (id.size() >= 16) {
        b.hash = id.substr(0, 16);
        return b;
    }
    // No build id: hash the content (slower: the whole file is read).
    auto hash = content_hash("/proc/self/exe");
    if (!hash) {
        return fail(hash.error());
    }
    b.hash = *hash;
    return b;
}

Result<AgentBinary> agent_binary(const std::string& version) {
    AgentBinary b;
    b.version = version;
    const char* given = std::getenv("SHIPSHAPE_AGENT");
    if (given && *given) {
        b.path = given;
    } else {
        std::string self = os::self_exe();
        b.path = self.substr(0, self.rfind('/') + 1) + "shipshape-agent";
    }
    struct stat st {};
    if (::stat(b.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return fail(Errc::not_found,
                    "the host agent " + b.path +
                        " is missing: it is installed beside shipshape (build the target "
                        "shipshape-agent, or install the shipshape package), or name it with "
                        "SHIPSHAPE_AGENT=PATH");
    }
    return b;
}

Result<std::string> agent_hash(const std::string& path) {
    return content_hash(path);
}

}  // namespace shipshape::fleet
