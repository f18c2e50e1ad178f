import ArgumentParser
import DSIRuntime
import Foundation

struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running handler over its local admin socket: its status, or to reload its configuration.",
        discussion: """
            status: counters per feed, line, publisher and subscriber, the workers' load, and the running \
            configuration with every default. reload: the handler re-reads its configuration file, checks it whole, \
            and applies what can change while running (filters, publish nodes added or removed, certificates, \
            entitlements, slow-consumer settings, log level); anything else is refused by key and the running \
            configuration is kept. Exit status 1 when refused. The socket is the config's admin.socket, or dsi.sock \
            in its state directory; only the handler's user and root may use it.
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable { case status, reload }

    @Argument(help: "status or reload.") var action: Action
    @Option(help: "The handler's admin socket.") var socket: String?
    @Option(help: "The handler's configuration, to find its admin socket.") var config: String?

    func run() throws {
        let path = try failing {
            if let socket { return socket }
            if let config { return try HandlerConfig.load(path: config).adminSocket }
            return HandlerConfig.defaultStateDirectory + "/dsi.sock"
        }
        let answer = try failing { try AdminServer.ask(path, action.rawValue) }
        print(answer, terminator: "")
        if answer.hasPrefix("refused") || answer.hasPrefix("unknown") { throw ExitCode.failure }
    }
}
