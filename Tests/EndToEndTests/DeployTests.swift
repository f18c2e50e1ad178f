import DSITestSupport
import Foundation
import Testing
import Yams

/// The files an operator deploys DSI with (tools/deploy/), checked by the tools that would run them: systemd's own
/// verifier and security analyser on the unit, and `dsi run --check` on the config inside the Kubernetes manifest,
/// whose probes, ports and resources must agree with that config.
@Suite struct DeployTests {
    let deploy = Commands.root + "/tools/deploy"

    /// The unit as installed for instance `name`, its `dsi` path pointing at this build (verify checks that the
    /// binary exists and is executable).
    func installUnit(in dir: TemporaryDirectory, _ name: String, extra: String = "") throws -> String {
        let unit = try String(contentsOfFile: deploy + "/dsi@.service", encoding: .utf8)
            .replacingOccurrences(of: "/opt/dsi/bin/dsi", with: Commands.dsi)
            .replacingOccurrences(of: "[Install]", with: extra + "[Install]")
        let path = dir.file("dsi@\(name).service")
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func systemdUnitVerifiesAndIsHardened() throws {
        let dir = try TemporaryDirectory("dsi-unit")
        defer { dir.remove() }
        let unit = try installUnit(in: dir, "nasdaq")
        let verify = try Commands.run("systemd-analyze", ["verify", "--man=no", unit], timeout: 60)
        #expect(verify.status == 0 && (verify.stdout + verify.stderr).isEmpty, "\(verify.stdout)\(verify.stderr)")
        // The verifier does complain: a mistyped key and a bad value in an otherwise identical unit.
        let broken = try installUnit(in: dir, "broken", extra: "Restart=sometimes\nCPUAfinity=2\n\n")
        let complaint = try Commands.run("systemd-analyze", ["verify", "--man=no", broken], timeout: 60)
        #expect(complaint.stderr.contains("CPUAfinity") && complaint.stderr.contains("sometimes"), "\(complaint.stderr)")

        // systemd's exposure score (0 safest, 10 least): 2.2 when written; a hardening option lost pushes it up.
        let security = try Commands.run(
            "systemd-analyze", ["security", "--offline=yes", "--no-pager", "--threshold=25", unit], timeout: 60)
        #expect(security.status == 0, "\(security.stdout.suffix(300))")
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        for option in ["CPUAffinity=", "LimitMEMLOCK=infinity", "Restart=on-failure", "ExecReload=", "NoNewPrivileges=yes"] {
            #expect(text.contains("\n" + option), "the unit sets \(option)")
        }
        #expect(text.contains("ExecStartPre=\(Commands.dsi) run --check"), "a bad config fails the start, not a restart loop")
    }

    @Test func kubernetesManifestAgreesWithItsConfig() throws {
        let dir = try TemporaryDirectory("dsi-k8s")
        defer { dir.remove() }
        let text = try String(contentsOfFile: deploy + "/dsi-handler.yaml", encoding: .utf8)
        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        let configMap = try #require(documents.first { $0["kind"] as? String == "ConfigMap" })
        let set = try #require(documents.first { $0["kind"] as? String == "StatefulSet" })

        // The handler's config, as mounted, passes dsi's own check.
        let handler = try #require((configMap["data"] as? [String: Any])?["handler.yaml"] as? String)
        try handler.write(toFile: dir.file("handler.yaml"), atomically: true, encoding: .utf8)
        let check = try Commands.run(
            Commands.dsi, ["run", "--check", "--config", dir.file("handler.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        #expect(check.status == 0, "\(check.stderr)")
        let parsed = try #require(try Yams.load(yaml: handler) as? [String: Any])
        func port(_ section: String) -> Int? {
            ((parsed[section] as? [String: Any])?["listen"] as? String)?.split(separator: ":").last.flatMap { Int($0) }
        }
        let metricsPort = try #require(port("metrics")), ticksPort = try #require(port("publisher"))

        let pod = try #require((set["spec"] as? [String: Any])?["template"] as? [String: Any])
        let spec = try #require(pod["spec"] as? [String: Any])
        #expect(spec["hostNetwork"] as? Bool == true, "multicast is joined on the node's interface")
        let container = try #require((spec["containers"] as? [[String: Any]])?.first)
        #expect((container["args"] as? [String]) == ["run", "--config", "/etc/dsi/handler.yaml"])
        let mounts = container["volumeMounts"] as? [[String: Any]] ?? []
        #expect(
            mounts.contains {
                $0["mountPath"] as? String == "/etc/dsi/handler.yaml" && $0["subPath"] as? String == "handler.yaml"
            })

        // Guaranteed QoS with whole CPUs (what the static CPU manager needs to give exclusive cores), and huge pages.
        let resources = try #require(container["resources"] as? [String: [String: Any]])
        let requests = try #require(resources["requests"]), limits = try #require(resources["limits"])
        for key in ["cpu", "memory", "hugepages-2Mi"] {
            #expect(requests[key] != nil && "\(requests[key]!)" == "\(limits[key] ?? "")", "\(key): requests equal limits")
        }
        #expect(Int("\(requests["cpu"] ?? "")") != nil, "whole CPUs")

        // Probes on the metrics endpoint's health paths, ports as the config listens.
        func probe(_ name: String) -> (String?, Int?) {
            let get = (container[name] as? [String: Any])?["httpGet"] as? [String: Any]
            return (get?["path"] as? String, get?["port"] as? Int)
        }
        #expect(probe("livenessProbe") == ("/healthz", metricsPort))
        #expect(probe("readinessProbe") == ("/readyz", metricsPort))
        let ports = (container["ports"] as? [[String: Any]] ?? []).compactMap { $0["containerPort"] as? Int }
        #expect(Set(ports) == [metricsPort, ticksPort])
        let annotations = (pod["metadata"] as? [String: Any])?["annotations"] as? [String: String]
        #expect(annotations?["prometheus.io/port"] == String(metricsPort))
    }
}
