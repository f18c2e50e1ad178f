import ArgumentParser
import Atomics
import CDSIShims
import DSICore
import DSIRuntime
import Logging

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the handler: join the configured lines, publish ticks over TLS 1.3, until SIGINT or SIGTERM.")

    @Option(help: "The YAML configuration (see feeds/loopback.yaml).") var config: String
    @Option(help: "Seconds between counter lines in the log (0: none).") var statsInterval = 10.0
    @Flag(help: "Check the configuration and print it resolved, with every default; start nothing.") var check = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard statsInterval >= 0 && statsInterval <= 86_400 else {
            throw ValidationError("--stats-interval must be 0 to 86400 seconds")
        }
    }

    func run() throws {
        let validated = try failing { try HandlerConfig.load(path: config) }
        if check {
            try failing { try MachineLimits.check(validated) }
            print(validated.resolvedDescription)
            return
        }
        let logger = global.logger("dsi.run")
        if let level = validated.logLevel.flatMap(Logger.Level.init(rawValue:)) { LogLevelSwitch.set(level) }
        CDSIShims_install_stop_handlers()
        CDSIShims_install_reload_handler()
        let handler = try failing { try FeedHandler(config: validated, logger: logger) }
        // The endpoints bind before the workers start: a port or socket in use is refused before anything runs.
        let metrics = try failing {
            try validated.metricsListen.map { try MetricsServer.start(for: handler, listen: $0, logger: logger) }
        }
        let reloads = ManagedAtomic<Int>(0)
        // SIGHUP and `dsi ctl reload`: the file again, checked whole; what cannot change live is refused and the
        // running configuration kept.
        let reload: @Sendable (String) -> String = { [config] origin in
            do {
                let new = try HandlerConfig.load(path: config)
                let outcome = try handler.reload(new)
                if let level = new.logLevel.flatMap(Logger.Level.init(rawValue:)) { LogLevelSwitch.set(level) }
                reloads.wrappingIncrement(ordering: .relaxed)
                logger.notice("\(origin): reloaded \(outcome)")
                return "reloaded: \(outcome)\n"
            } catch {
                logger.error("\(origin): reload refused, running on unchanged: \(error)")
                return "refused: \(error)\n"
            }
        }
        let admin = try failing {
            try AdminServer(
                path: validated.adminSocket,
                commands: [
                    "status": { handler.statusReport(reloads: reloads.load(ordering: .relaxed)) },
                    "reload": { reload("dsi ctl reload") },
                ], logger: logger)
        }
        admin.start()
        handler.start()
        logger.info("admin socket \(validated.adminSocket) (dsi ctl status | reload)")
        var nextStats = Clock.monotonicNanos() + UInt64(statsInterval * 1e9)
        while CDSIShims_stop_requested() == 0 && handler.failure == nil {
            Clock.sleep(nanos: 50_000_000)
            if CDSIShims_take_reload_request() != 0 { _ = reload("SIGHUP") }
            if statsInterval > 0 && Clock.monotonicNanos() >= nextStats {
                nextStats += UInt64(statsInterval * 1e9)
                logger.info("\(Self.counterLine(handler))")
            }
        }
        admin.stop()
        logger.info("stopping: draining the pipeline and the publisher")
        let failure = handler.stop()
        metrics?.stop()
        logger.info("stopped. \(Self.counterLine(handler))")
        if let failure {
            FileHandleStderr.write("dsi: error: a worker failed: \(failure)\n")
            throw ExitCode.failure
        }
    }

    static func counterLine(_ handler: FeedHandler) -> String {
        let feeds = handler.feeds.map { feed in
            let counts = feed.counters.snapshot.filter { $0.1 > 0 || ["messages", "gaps"].contains($0.0) }
                .map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            return handler.feeds.count > 1 ? "[\(feed.config.name)] \(counts)" : counts
        }
        return "\(feeds.joined(separator: " ")) kernelDrops=\(handler.kernelDrops) ticksPublished=\(handler.ticksPublished) "
            + "ticksDropped=\(handler.ticksDropped) ticksFiltered=\(handler.ticksFiltered) subscribers=\(handler.subscribers) "
            + "slowConsumers=\(handler.slowConsumerDisconnects) connectionsRefused=\(handler.connectionsRefused)"
            + (handler.config.timestamps == .hardware ? " hardwareStamped=\(handler.hardwareStamped)" : "")
    }
}
