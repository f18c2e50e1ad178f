import DSITestSupport
import DSITools
import Foundation

/// A three-node nats-server cluster with JetStream (Debian's nats-server), on loopback ports of its own, started
/// for a test and stopped after it.
final class NATSCluster {
    struct Node {
        let client: UInt16
        let route: UInt16
        let monitor: UInt16
        var process: Commands.Running?
    }

    private(set) var nodes: [Node] = []
    let dir: String

    /// The clients' URLs, comma-separated (what the Python consumer takes).
    var servers: String { nodes.map { "nats://127.0.0.1:\($0.client)" }.joined(separator: ",") }
    /// As YAML list items.
    var serverList: String { nodes.map { "nats://127.0.0.1:\($0.client)" }.joined(separator: ", ") }

    init(in dir: String) throws {
        self.dir = dir
        for _ in 0..<3 { nodes.append(Node(client: try FreePort.tcp(), route: try FreePort.tcp(), monitor: try FreePort.tcp())) }
        let routes = nodes.map { "nats-route://127.0.0.1:\($0.route)" }.joined(separator: ", ")
        for (i, node) in nodes.enumerated() {
            let config = """
                server_name: n\(i + 1)
                listen: 127.0.0.1:\(node.client)
                http: 127.0.0.1:\(node.monitor)
                write_deadline: "60s"
                jetstream { store_dir: "\(dir)/n\(i + 1)", max_memory_store: 256MB, max_file_store: 1GB }
                cluster { name: dsi-test, listen: 127.0.0.1:\(node.route), routes: [\(routes)] }
                """
            try config.write(toFile: "\(dir)/n\(i + 1).conf", atomically: true, encoding: .utf8)
            nodes[i].process = try Commands.start("nats-server", ["-c", "\(dir)/n\(i + 1).conf", "-l", "\(dir)/n\(i + 1).log"])
        }
        try waitUntilReady()
    }

    deinit { stop() }

    /// Every node healthy (in 2.9 that includes JetStream being current) and a JetStream meta leader elected.
    func waitUntilReady(timeout: Double = 30) throws {
        let check = """
            import json, sys, urllib.request
            ports = sys.argv[1:]
            for p in ports:
                body = urllib.request.urlopen("http://127.0.0.1:%s/healthz" % p, timeout=2).read().decode()
                assert '"ok"' in body, body
            meta = json.load(urllib.request.urlopen("http://127.0.0.1:%s/jsz" % ports[0], timeout=2)).get("meta_cluster", {})
            assert meta.get("leader") and meta.get("cluster_size") == len(ports), meta
            """
        let deadline = Date().addingTimeInterval(timeout)
        let alive = nodes.filter { $0.process != nil }.map { String($0.monitor) }
        while Date() < deadline {
            if (try? Commands.run("python3", ["-c", check] + alive, timeout: 10))?.status == 0 { return }
            usleep(200_000)
        }
        throw NATSClusterError(description: "the NATS cluster was not ready in \(timeout) s; logs in \(dir)")
    }

    /// The node whose client port is `port`.
    func node(clientPort port: UInt16) -> Int? { nodes.firstIndex { $0.client == port } }

    /// Kills node `i` outright (SIGKILL: no goodbye to the cluster).
    func kill(_ i: Int) {
        nodes[i].process?.signal(SIGKILL)
        _ = try? nodes[i].process?.wait(timeout: 10)
        nodes[i].process = nil
    }

    func stop() {
        for i in nodes.indices where nodes[i].process != nil {
            nodes[i].process?.signal(SIGTERM)
            _ = try? nodes[i].process?.wait(timeout: 10)
            nodes[i].process = nil
        }
    }
}

struct NATSClusterError: Error, CustomStringConvertible {
    let description: String
}
