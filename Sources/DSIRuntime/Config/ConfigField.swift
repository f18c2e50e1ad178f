/// What a configuration key may hold: checked against the YAML before anything is decoded, so that a value out of
/// range, a word that is not one of the choices or a key nobody reads is refused with a message that says what is
/// allowed, rather than trapping, being ignored, or failing later at start.
public indirect enum ConfigField: Sendable {
    /// Any text.
    case text
    /// A whole number in `range`, in `unit` (shown in messages).
    case integer(ClosedRange<Int64>, unit: String)
    /// A number in `range`, in `unit`.
    case number(ClosedRange<Double>, unit: String)
    /// One of these words.
    case choice([String])
    /// A mapping with the keys of a section.
    case section(any ConfigSection.Type)
    /// A list of `element`s.
    case list(ConfigField)

    /// The words of an enum's cases.
    static func choice<E: CaseIterable & RawRepresentable>(of: E.Type) -> ConfigField where E.RawValue == String {
        .choice(E.allCases.map(\.rawValue))
    }

    /// What the field takes, for messages ("a whole number from 1 to 64").
    var expectation: String {
        switch self {
        case .text: "text"
        case .integer(let range, let unit):
            "a whole number from \(Self.grouped(range.lowerBound)) to \(Self.grouped(range.upperBound))\(unit.isEmpty ? "" : " (\(unit))")"
        case .number(let range, let unit):
            "a number from \(Self.plain(range.lowerBound)) to \(Self.plain(range.upperBound))\(unit.isEmpty ? "" : " (\(unit))")"
        case .choice(let words): "one of \(words.joined(separator: ", "))"
        case .section(let type): "a mapping with the keys \(type.fields.map(\.key).joined(separator: ", "))"
        case .list(let element): "a list, each \(element.expectation)"
        }
    }

    static func grouped(_ n: Int64) -> String {
        let digits = String(n.magnitude)
        guard digits.count > 4 else { return n < 0 ? "-" + digits : digits }
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(" ") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    static func plain(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x) }
}

/// A part of the configuration: its keys, in the order the documentation gives them, and what each holds.
public protocol ConfigSection: Sendable {
    static var fields: [(key: String, field: ConfigField)] { get }
}
