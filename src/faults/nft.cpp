#include "faults/nft.hpp"

#include <nftables/libnftables.h>

#include <map>

namespace shipshape::faults {

struct Nft::Impl {
    nft_ctx* ctx = nullptr;
    struct Chain {
        std::string hook;
        std::vector<std::string> rules;
        bool enabled = false;
    };
    std::map<int, Chain> chains;
    bool batching = false;
    std::string pending;                             // the batch's script so far
    std::vector<std::pair<int, std::string>> check;  // each declared fault's rules
};

Nft::Nft(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Nft::~Nft() {
    if (m_impl && m_impl->ctx) {
        nft_ctx_free(m_impl->ctx);
    }
}

Status Nft::run(const std::string& script) {
    int rc = nft_run_cmd_from_buffer(m_impl->ctx, script.c_str());
    if (rc != 0) {
        std::string err = nft_ctx_get_error_buffer(m_impl->ctx);
        while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) {
            err.pop_back();
        }
        return fail(Errc::io, "nftables refused '" + script + "': " + err);
    }
    return {};
}

Result<std::unique_ptr<Nft>> Nft::create() {
    auto impl = std::make_unique<Impl>();
    impl->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!impl->ctx) {
        return fail(Errc::unsupported, "nftables: cannot create a libnftables context");
    }
    nft_ctx_buffer_output(impl->ctx);
    nft_ctx_buffer_error(impl->ctx);
    std::unique_ptr<Nft> nft(new Nft(std::move(impl)));
    // Priority -300 puts the fault rules before anything else in the namespace, conntrack
    // included for the input path, so a dropped packet never reaches a socket.
    auto st = nft->run(
        "add table inet shipshape\n"
        "add chain inet shipshape input { type filter hook input priority -150; }\n"
        "add chain inet shipshape output { type filter hook output priority -150; }\n");
    if (!st) {
        return fail(Errc::unsupported,
                    "nftables is not usable in the sandbox's network namespace (needs the "
                    "nf_tables kernel module and CAP_NET_ADMIN): " +
                        st.error().message());
    }
    return nft;
}

Status Nft::declare(int id, std::string hook, std::vector<std::string> rules) {
    std::string name = counter_name(id);
    std::string script = "add counter inet shipshape " + name + "\n" + "add chain inet shipshape " +
                         name + "\n" + "add rule inet shipshape " + hook + " jump " + name + "\n";
    std::string check;
    for (const auto& r : rules) {
        check += "add rule inet shipshape " + name + " " + r + "\n";
    }
    m_impl->chains[id] = Impl::Chain{std::move(hook), std::move(rules), false};
    if (m_impl->batching) {
        m_impl->pending += script;
        m_impl->check.emplace_back(id, check);
        return {};
    }
    if (auto st = run(script); !st) {
        m_impl->chains.erase(id);
        return st;
    }
    // Check the rules now (dry run), so a fault that only starts later cannot fail then.
    nft_ctx_set_dry_run(m_impl->ctx, true);
    auto st = run(check);
    nft_ctx_set_dry_run(m_impl->ctx, false);
    if (!st) {
        return fail(Errc::unsupported, st.error().message());
    }
    return {};
}

void Nft::begin_batch() {
    m_impl->batching = true;
}

Status Nft::commit_batch() {
    m_impl->batching = false;
    std::string script = std::move(m_impl->pending);
    auto checks = std::move(m_impl->check);
    m_impl->pending.clear();
    m_impl->check.clear();
    // One transaction for every declaration and every rule that starts on: each libnftables
    // call costs milliseconds, a batch costs about one.
    if (!script.empty()) {
        if (auto st = run(script); !st) {
            return fail(Errc::unsupported, st.error().message());
        }
    }
    std::string later;
    for (const auto& [id, text] : checks) {
        if (!m_impl->chains.at(id).enabled) {
            later += text;
        }
    }
    if (!later.empty()) {
        nft_ctx_set_dry_run(m_impl->ctx, true);
        auto st = run(later);
        nft_ctx_set_dry_run(m_impl->ctx, false);
        if (!st) {
            return fail(Errc::unsupported, st.error().message());
        }
    }
    return {};
}

Status Nft::enable(int id) {
    auto& c = m_impl->chains.at(id);
    if (c.enabled) {
        return {};
    }
    std::string script;
    for (const auto& r : c.rules) {
        script += "add rule inet shipshape " + counter_name(id) + " " + r + "\n";
    }
    if (m_impl->batching) {
        m_impl->pending += script;
        c.enabled = true;
        return {};
    }
    auto st = run(script);
    if (st) {
        c.enabled = true;
    }
    return st;
}

Status Nft::disable(int id) {
    auto& c = m_impl->chains.at(id);
    if (!c.enabled) {
        return {};
    }
    auto st = run("flush chain inet shipshape " + counter_name(id));
    if (st) {
        c.enabled = false;
    }
    return st;
}

Result<std::map<int, NftCounter>> Nft::counters() {
    auto st = run("list counters table inet shipshape");
    if (!st) {
        return fail(st.error());
    }
    // The text form is "counter fN { packets P bytes B }" per counter; it has been stable
    // across nft releases.
    std::string out = nft_ctx_get_output_buffer(m_impl->ctx);
    std::map<int, NftCounter> result;
    size_t at = 0;
    while ((at = out.find("counter f", at)) != std::string::npos) {
        int id = std::atoi(out.c_str() + at + 9);
        auto packets = out.find("packets ", at);
        auto bytes = out.find("bytes ", at);
        if (packets == std::string::npos || bytes == std::string::npos) {
            break;
        }
        result[id] = NftCounter{std::strtoull(out.c_str() + packets + 8, nullptr, 10),
                                std::strtoull(out.c_str() + bytes + 6, nullptr, 10)};
        at = bytes;
    }
    return result;
}

}  // namespace shipshape::faults
