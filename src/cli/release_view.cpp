#include "cli/release_view.hpp"

#include "cli/audit_view.hpp"

#include <cstdio>

#include <fmt/format.h>

namespace shipshape::cli {

namespace {

using release::short_hash;

std::string paint(const Context& ctx, const char* colour, const std::string& text) {
    return ctx.color ? fmt::format("\033[{}m{}\033[0m", colour, text) : text;
}

void print_document(const release::ReleaseDocument& doc) {
    std::printf("  checklist     %s  sha256 %s\n", doc.checklist.path.c_str(),
                short_hash(doc.checklist.sha256).c_str());
    std::string params;
    for (const auto& [k, v] : doc.params) {
        params += (params.empty() ? "" : " ") + k + "=" + v;
    }
    std::printf("  params        %s\n", params.empty() ? "(none)" : params.c_str());
    for (const auto& p : doc.packages) {
        if (p.package.empty()) {
            std::printf("  artifact      %s  sha256 %s\n", p.path.c_str(),
                        short_hash(p.sha256).c_str());
        } else {
            std::printf("  package       %s  %s %s %s  manifest %s\n", p.path.c_str(),
                        p.package.c_str(), p.version.c_str(), p.architecture.c_str(),
                        short_hash(p.manifest_sha256).c_str());
        }
    }
    if (doc.requirements) {
        std::printf("  requirements  %s  sha256 %s\n", doc.requirements->path.c_str(),
                    short_hash(doc.requirements->sha256).c_str());
    }
    for (const auto& f : doc.state) {
        std::printf("  state         %s  sha256 %s\n", f.path.c_str(),
                    short_hash(f.sha256).c_str());
    }
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

// The stage a release should go to next: the first whose run has not finished.
const app::StageStatus* next_stage(const app::ReleaseStatus& s) {
    for (const auto& st : s.stages) {
        if (!st.run_done) {
            return &st;
        }
    }
    return nullptr;
}

}  // namespace

std::string missing_text(const release::GateReport& gate) {
    return join(gate.missing, "; ");
}

void print_release_created(const Context& ctx, const app::ReleaseCreated& created) {
    if (ctx.json) {
        std::printf("%s\n", json_release_created(created).c_str());
        return;
    }
    const auto& r = created.record;
    std::printf("release %s\n", r.document.name.c_str());
    print_document(r.document);
    if (created.existed) {
        std::printf(
            "the same content was released before (%s, by %s): same id, its sign-offs "
            "still count\n",
            release::iso_time(r.created_at).c_str(), r.created_by.c_str());
    } else {
        if (created.previous) {
            std::printf("changed since %s (%s), whose sign-offs do not carry over:\n",
                        short_hash(created.previous->id).c_str(),
                        release::iso_time(created.previous->created_at).c_str());
            for (const auto& c : created.changes) {
                std::printf("  %s\n", c.c_str());
            }
        }
        std::printf("wrote %s (commit it to the ops repo)\n", created.file.c_str());
        if (created.audit) {
            std::printf("%s\n", audit_head_line(*created.audit).c_str());
        }
    }
    std::printf("%s\n", r.id.c_str());
}

void print_release_status(const Context& ctx, const app::ReleaseStatus& s, bool offline) {
    if (ctx.json) {
        std::printf("%s\n", json_release_status(s, offline).c_str());
        return;
    }
    const auto& r = s.record;
    std::printf("release %s\nid      %s\ncreated %s by %s\n", r.document.name.c_str(), r.id.c_str(),
                release::iso_time(r.created_at).c_str(), r.created_by.c_str());
    print_document(r.document);
    if (!s.id_matches) {
        std::printf("%s\n", paint(ctx, "1;31",
                                  "the record was edited: its id is not the sha256 of its "
                                  "document")
                                .c_str());
    }
    if (!s.superseded_by.empty()) {
        std::printf("superseded by %s, a newer release of %s\n",
                    short_hash(s.superseded_by).c_str(), r.document.name.c_str());
    }
    if (!s.changed.empty()) {
        std::printf("%s\n", paint(ctx, "1;31",
                                  "changed since the release was made (its sign-offs do not "
                                  "cover the files as they are now):")
                                .c_str());
        for (const auto& c : s.changed) {
            std::printf("  %s\n", c.c_str());
        }
    }
    if (s.stages.empty()) {
        std::printf("stages: none ([stage.NAME] in shipshape.toml)\n");
        return;
    }
    std::printf("stages:\n");
    for (const auto& st : s.stages) {
        std::string state = st.run_done ? paint(ctx, "1;32", "run done") : "not run";
        std::string gate = st.gate.ok ? paint(ctx, "32", "may run")
                                      : paint(ctx, "1;31", "blocked: " + missing_text(st.gate));
        if (offline && !st.stage->after.empty()) {
            gate += " (" + st.stage->after + " run not checked: offline)";
        }
        std::printf("  %-10s %-9s %s\n", st.stage->name.c_str(), offline ? "" : state.c_str(),
                    gate.c_str());
        for (const auto& [role, people] : st.gate.have) {
            if (!people.empty()) {
                std::printf("  %-10s           signed as %s: %s\n", "", role.c_str(),
                            join(people).c_str());
            }
        }
        for (const auto& rej : st.gate.rejected) {
            std::printf("  %-10s           not counted: %s: %s\n", "", rej.source.c_str(),
                        rej.reason.c_str());
        }
    }
}

void print_release_list(const Context& ctx, const std::vector<app::ReleaseStatus>& releases) {
    if (ctx.json) {
        std::printf("%s\n", json_release_list(releases).c_str());
        return;
    }
    if (releases.empty()) {
        std::printf(
            "no releases yet: shipshape release create NAME --checklist FILE "
            "[--package FILE]…\n");
        return;
    }
    std::printf("%-24s %-12s  %-20s %-10s %s\n", "RELEASE", "ID", "CREATED", "REACHED", "NEXT");
    for (const auto& s : releases) {
        const auto& r = s.record;
        std::string next;
        if (!s.superseded_by.empty()) {
            next = "superseded by " + short_hash(s.superseded_by);
        } else if (!s.changed.empty()) {
            next = "inputs changed: create it again";
        } else if (const auto* st = next_stage(s)) {
            next = st->stage->name + ": " +
                   (st->gate.ok ? paint(ctx, "32", "may run")
                                : paint(ctx, "1;31", "blocked (" + missing_text(st->gate) + ")"));
        } else {
            next = paint(ctx, "1;32", "every stage done");
        }
        std::string created = release::iso_time(r.created_at).substr(0, 16);
        created[10] = ' ';
        std::printf("%-24s %-12s  %-20s %-10s %s\n", r.document.name.c_str(),
                    r.id.substr(0, 12).c_str(), (created + "Z").c_str(),
                    s.reached.empty() ? "-" : s.reached.c_str(), next.c_str());
    }
}

void print_sign_off(const Context& ctx, const app::SignOffDone& done) {
    if (ctx.json) {
        std::printf("%s\n", json_sign_off(done).c_str());
        return;
    }
    const auto& s = done.sign_off;
    std::printf("signed off %s (%s) for %s as %s: %s\n", s.release_name.c_str(),
                short_hash(s.release_id).c_str(), s.stage.c_str(), s.role.c_str(),
                done.person.c_str());
    std::printf("wrote %s (commit it to the ops repo)\n", done.file.c_str());
    if (done.stage.gate.ok) {
        std::printf("%s: %s\n", s.stage.c_str(), paint(ctx, "1;32", "every gate holds").c_str());
    } else {
        std::printf("%s: still blocked: %s\n", s.stage.c_str(),
                    missing_text(done.stage.gate).c_str());
    }
    if (done.audit) {
        std::printf("%s\n", audit_head_line(*done.audit).c_str());
    }
}

}  // namespace shipshape::cli
