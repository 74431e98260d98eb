#include "store/host_reports.hpp"

namespace shipshape::store {

std::string join_drift(const std::vector<std::string>& drift) {
    std::string out;
    for (const auto& d : drift) {
        if (!out.empty()) {
            out += '\n';
        }
        out += d;
    }
    return out;
}

std::vector<std::string> split_drift(std::string_view column) {
    std::vector<std::string> out;
    if (column.empty()) {
        return out;
    }
    size_t at = 0;
    while (true) {
        size_t nl = column.find('\n', at);
        out.emplace_back(column.substr(at, nl == std::string_view::npos ? column.npos : nl - at));
        if (nl == std::string_view::npos) {
            return out;
        }
        at = nl + 1;
    }
}

}  // namespace shipshape::store
