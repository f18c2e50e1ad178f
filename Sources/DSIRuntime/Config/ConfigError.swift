/// A configuration that cannot be used: names the file, the key and what is wrong, in words that say what to do.
public struct ConfigError: Error, CustomStringConvertible {
    public let file: String
    public let key: String?
    public let problem: String
    public init(file: String, key: String?, problem: String) {
        self.file = file
        self.key = key
        self.problem = problem
    }
    public var description: String { key.map { "\(file): \($0): \(problem)" } ?? "\(file): \(problem)" }
}
