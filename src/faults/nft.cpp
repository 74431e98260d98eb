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
    auto st = run("add counter inet shipshape " + name + "\n" + "add chain inet shipshape " +
                  name + "\n" + "add rule inet shipshape " + hook + " jump " + name + "\n");
    if (!st) {
        return st;
    }
    // Check the rules now (dry run), so a fault that only starts later cannot fail then.
    std::string script;
    for (const auto& r : rules) {
        script += "add rule inet shipshape " + name + " " + r + "\n";
    }
    nft_ctx_set_dry_run(m_impl->ctx, true);
    st = run(script);
    nft_ctx_set_dry_run(m_impl->ctx, false);
    if (!st) {
        return fail(Errc::unsupported, st.error().message());
    }
    m_impl->chains[id] = Impl::Chain{std::move(hook), std::move(rules), false};
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

Result<NftCounter> Nft::counter(int id) {
    auto st = run("list counter inet shipshape " + counter_name(id));
    if (!st) {
        return fail(st.error());
    }
    // The text form is "... packets N bytes M ..."; it has been stable across nft releases.
    std::string out = nft_ctx_get_output_buffer(m_impl->ctx);
    NftCounter c;
    auto number_after = [&](std::string_view word) -> uint64_t {
        auto at = out.find(std::string(word) + " ");
        if (at == std::string::npos) {
            return 0;
        }
        return std::strtoull(out.c_str() + at + word.size() + 1, nullptr, 10);
    };
    c.packets = number_after("packets");
    c.bytes = number_after("bytes");
    return c;
}

}  // namespace shipshape::faults
