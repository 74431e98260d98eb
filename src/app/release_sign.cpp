// Signing through ssh-keygen, so ssh-agent, FIDO and hardware keys work as they do for git.
#include <unistd.h>

#include "app/release_service.hpp"
#include "core/text.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

std::string first_line(std::string_view s) {
    return std::string(trim(s.substr(0, s.find('\n'))));
}

}  // namespace

Result<std::string> ReleaseService::sign_message(const std::string& message,
                                                 const std::string& key) const {
    std::string key_file = key;
    std::string temp;
    if (key_file.empty()) {
        // The first key the agent offers, as a public key file: ssh-keygen then signs with the
        // agent's private half.
        os::ProcessSpec list;
        list.argv = {"ssh-add", "-L"};
        list.errors = os::Stderr::separate;
        list.timeout = Millis{10000};
        os::CollectSink sink;
        auto ran = m_runner.run(list, sink, nullptr);
        if (!ran || !ran->success() || first_line(sink.out).empty()) {
            return fail(Errc::invalid_argument,
                        "no --key, and ssh-agent offers no key (ssh-add -L: " +
                            first_line(ran ? sink.err + sink.out : ran.error().message()) +
                            "): pass --key ~/.ssh/id_ed25519, or add a key with ssh-add");
        }
        temp = m_project.state_dir() + "/signing-key-" + std::to_string(::getpid()) + ".pub";
        if (auto st = os::write_whole_file_atomic(temp, first_line(sink.out) + "\n"); !st) {
            return fail(st.error());
        }
        key_file = temp;
    }
    os::ProcessSpec sign;
    sign.argv = {"ssh-keygen",
                 "-Y",
                 "sign",
                 "-f",
                 key_file,
                 "-n",
                 std::string(release::k_signoff_namespace)};
    sign.input = os::Input::text;
    sign.input_text = message;
    sign.errors = os::Stderr::separate;
    sign.timeout = Millis{300000};  // a hardware key may wait for a touch
    os::CollectSink sink;
    auto ran = m_runner.run(sign, sink, nullptr);
    if (!temp.empty()) {
        ::unlink(temp.c_str());
    }
    if (!ran) {
        return fail(ran.error().code(),
                    "running ssh-keygen -Y sign (openssh-client): " + ran.error().message());
    }
    if (!ran->success()) {
        return fail(Errc::invalid_argument, "ssh-keygen -Y sign -f " + key_file + " failed (" +
                                                os::describe(*ran, sign.timeout) +
                                                "): " + first_line(sink.err));
    }
    if (sink.out.find("-----BEGIN SSH SIGNATURE-----") == std::string::npos) {
        return fail(Errc::internal, "ssh-keygen -Y sign printed no signature");
    }
    return sink.out;
}

}  // namespace shipshape::app
