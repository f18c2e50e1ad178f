import Glibc
import Yams

extension HandlerConfig {
    /// The largest configuration file read: a config is a page of YAML, and anything this large is the wrong file.
    public static let maxFileSize = 1 << 20

    /// Reads and validates a YAML file. Every problem names the file, the key, and what is allowed or what to do.
    public static func load(path: String) throws -> ValidatedConfig {
        try load(text: readFile(path), file: path)
    }

    /// Parses and validates YAML text; `file` names it in messages.
    public static func load(text: String, file: String) throws -> ValidatedConfig {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, _) {
            throw ConfigError(
                file: file, key: nil,
                problem: "a key is given twice in one mapping: \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        } catch {
            // libyaml's report spans lines (it quotes the text); the first says where and what.
            let first = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw ConfigError(file: file, key: nil, problem: "invalid YAML at \(first)")
        }
        guard let node else {
            throw ConfigError(file: file, key: nil, problem: "the file holds no configuration (it is empty or only comments)")
        }
        try ConfigCheck.check(node, as: HandlerConfig.self, path: "", file: file)
        let config: HandlerConfig
        do {
            config = try YAMLDecoder().decode(HandlerConfig.self, from: node)
        } catch let error as DecodingError {
            throw ConfigError(file: file, key: error.keyPath, problem: error.problem)
        } catch {
            throw ConfigError(file: file, key: nil, problem: "cannot be read: \(error)")
        }
        return try config.validatedValues(file: file)
    }

    /// The file's text, or an error that says in plain words what is wrong with the path.
    static func readFile(_ path: String) throws -> String {
        func fail(_ problem: String) -> ConfigError { ConfigError(file: path, key: nil, problem: problem) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ENOENT: throw fail("no such file")
            case EACCES: throw fail("permission denied: this user may not read it (check its permissions)")
            case ENOTDIR: throw fail("no such file: a part of the path is not a directory")
            default: throw fail("cannot open it: \(String(cString: strerror(errno)))")
            }
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("cannot read it: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT != S_IFDIR else {
            throw fail("is a directory; give the YAML file in it (for example feeds/loopback.yaml)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw fail("is not a regular file") }
        guard info.st_size > 0 else { throw fail("the file is empty") }
        guard info.st_size <= maxFileSize else {
            throw fail("\(info.st_size) bytes is too large for a configuration (at most \(maxFileSize)): is it the right file?")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw fail("cannot read it: \(n < 0 ? String(cString: strerror(errno)) : "it shrank while being read")")
            }
            filled += n
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("not UTF-8 text: is it the right file?") }
        return text
    }
}

extension DecodingError {
    /// `feeds[0].lines[1].group` style path of the failing key.
    var keyPath: String {
        let path: [CodingKey]
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: path = []
        }
        var out = ""
        for key in path {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return out.isEmpty ? "(top level)" : out
    }

    var problem: String {
        switch self {
        case .typeMismatch(let type, _): "expected \(Self.plainName(type))"
        case .valueNotFound(let type, _): "missing value (expected \(Self.plainName(type)))"
        case .keyNotFound: "required key is missing"
        case .dataCorrupted(let c): c.debugDescription
        @unknown default: "invalid"
        }
    }

    static func plainName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "text"
        case is Int.Type, is UInt32.Type, is Int32.Type, is UInt64.Type: "a whole number"
        case is Double.Type: "a number"
        case is [Any].Type: "a list"
        default: "\(type)"
        }
    }
}
