import Yams

/// Checks a configuration's YAML against the schema (`ConfigSection.fields`) before it is decoded: every key is one
/// the section has (a typo is refused with the nearest key suggested), every number is in range, every word is one of
/// the choices. Decoding then only meets values it can hold: no integer conversion traps, no silently ignored key.
enum ConfigCheck {
    /// Checks `node` as a `section` at `path` (empty at the top).
    static func check(_ node: Node, as section: any ConfigSection.Type, path: String, file: String) throws {
        guard case .mapping(let mapping) = node else {
            throw ConfigError(
                file: file, key: path.isEmpty ? nil : path,
                problem:
                    "expected a mapping of keys (\(section.fields.map(\.key).joined(separator: ", "))), found \(describe(node))")
        }
        let keys = section.fields.map(\.key)
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw ConfigError(
                    file: file, key: path.isEmpty ? nil : path, problem: "a key must be a word, found \(describe(keyNode))")
            }
            let key = scalar.string
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard let field = section.fields.first(where: { $0.key == key })?.field else {
                var problem = "unknown key '\(key)'"
                if let near = nearest(key, among: keys) { problem += " (did you mean '\(near)'?)" }
                problem += "; \(path.isEmpty ? "the top level has" : "allowed here:") \(keys.joined(separator: ", "))"
                throw ConfigError(file: file, key: keyPath, problem: problem)
            }
            try check(value, as: field, path: keyPath, file: file)
        }
    }

    static func check(_ node: Node, as field: ConfigField, path: String, file: String) throws {
        func fail(_ problem: String) -> ConfigError { ConfigError(file: file, key: path, problem: problem) }
        if case .scalar(let s) = node, s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string) {
            return  // absent: the default applies (or decoding says the key is required)
        }
        switch field {
        case .section(let section):
            try check(node, as: section, path: path, file: file)
        case .list(let element):
            guard case .sequence(let sequence) = node else {
                throw fail("expected a list (\(field.expectation)), found \(describe(node))")
            }
            for (i, item) in sequence.enumerated() { try check(item, as: element, path: "\(path)[\(i)]", file: file) }
        case .text:
            guard case .scalar = node else { throw fail("expected text, found \(describe(node))") }
        case .integer(let range, let unit):
            guard case .scalar(let s) = node else { throw fail("expected \(field.expectation), found \(describe(node))") }
            guard let value = Int64(s.string.replacingOccurrences(of: "_", with: "")) else {
                throw fail("'\(s.string)' is not a whole number; expected \(field.expectation)")
            }
            guard range.contains(value) else {
                throw fail(
                    "\(ConfigField.grouped(value))\(unit.isEmpty ? "" : " \(unit)") is out of range; expected \(field.expectation)"
                )
            }
        case .number(let range, _):
            guard case .scalar(let s) = node else { throw fail("expected \(field.expectation), found \(describe(node))") }
            guard let value = Double(s.string.replacingOccurrences(of: "_", with: "")), value.isFinite else {
                throw fail("'\(s.string)' is not a number; expected \(field.expectation)")
            }
            guard range.contains(value) else {
                throw fail("\(ConfigField.plain(value)) is out of range; expected \(field.expectation)")
            }
        case .choice(let words):
            guard case .scalar(let s) = node else { throw fail("expected \(field.expectation), found \(describe(node))") }
            guard words.contains(s.string) else {
                var problem = "'\(s.string)' is not allowed; expected \(field.expectation)"
                if let near = nearest(s.string, among: words) { problem += " (did you mean '\(near)'?)" }
                throw fail(problem)
            }
        }
    }

    /// What a node is, in a message.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): "'\(s.string.prefix(60))'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// The candidate closest to `word` by edit distance (ignoring case), when close enough to be a likely typo.
    static func nearest(_ word: String, among candidates: [String]) -> String? {
        let w = Array(word.lowercased())
        var best: (String, Int)? = nil
        for candidate in candidates {
            let d = distance(w, Array(candidate.lowercased()))
            if d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        guard let best, best.1 <= max(2, min(w.count, best.0.count) / 3) else { return nil }
        return best.0
    }

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
