import ArgumentParser
import DSINet
import DSIRuntime

struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a CA, a server certificate (localhost, 127.0.0.1) and client certificates for mutual TLS.")

    @Option(help: "The directory to write ca.pem, ca-key.pem, server.pem, server-key.pem, NAME.pem, NAME-key.pem to.")
    var out: String
    @Option(help: "A client to make a certificate for (subject CN=NAME); repeat for more.") var client: [String] = []
    @Option(help: "Days the certificates are valid.") var days = 365

    func validate() throws {
        guard (1...3_650).contains(days) else { throw ValidationError("--days must be 1 to 3650") }
        for name in client {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw ValidationError("--client '\(name)': letters, digits, '-', '_' and '.' only (it names files)")
            }
            guard !["ca", "server"].contains(name) else {
                throw ValidationError("--client '\(name)' would overwrite \(name).pem")
            }
        }
    }

    func run() throws {
        let written = try failing { try Certificates.quickStart(directory: out, clients: client, days: days) }
        for path in written { print(path) }
        FileHandleStderr.write(
            """
            dsi certs: publisher: certificate \(out)/server.pem, key \(out)/server-key.pem, clientCA \(out)/ca.pem; \
            subscribers: --ca \(out)/ca.pem --cert \(out)/NAME.pem --key \(out)/NAME-key.pem\n
            """)
    }
}
