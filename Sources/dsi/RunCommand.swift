import ArgumentParser
import CDSIShims
import DSICore
import DSIRuntime

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
        CDSIShims_install_stop_handlers()
        CDSIShims_install_reload_handler()
        let handler = try failing { try FeedHandler(config: validated, logger: logger) }
        // The endpoint binds before the workers start: a port in use is refused before anything runs.
        let metrics = try failing {
            try validated.metricsListen.map { try MetricsServer.start(for: handler, listen: $0, logger: logger) }
        }
        handler.start()
        var nextStats = Clock.monotonicNanos() + UInt64(statsInterval * 1e9)
        while CDSIShims_stop_requested() == 0 && handler.failure == nil {
            Clock.sleep(nanos: 50_000_000)
            if CDSIShims_take_reload_request() != 0 {
                // SIGHUP: certificates and entitlements again; a bad file is reported and the running ones kept.
                do {
                    let reloaded = try handler.reload(try HandlerConfig.load(path: config))
                    logger.notice("SIGHUP: reloading \(reloaded)")
                } catch {
                    logger.error("SIGHUP: reload refused, running on unchanged: \(error)")
                }
            }
            if statsInterval > 0 && Clock.monotonicNanos() >= nextStats {
                nextStats += UInt64(statsInterval * 1e9)
                logger.info("\(Self.counterLine(handler))")
            }
        }
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
