import ArgumentParser

/// How `dsi decode`, `dsi ticks` and `dsi subscribe` print: aligned lines for people (`text`, the default), JSON
/// lines for programs (`jsonl`), or nothing but the summary (`none`, where a command offers it).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl, none

    static func help(withNone: Bool) -> ArgumentHelp {
        ArgumentHelp(
            "text (aligned lines, prices in dollars; the default), jsonl (one JSON object per line)"
                + (withNone ? ", or none (the summary only)" : ""))
    }
}
