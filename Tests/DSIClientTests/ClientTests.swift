import DSIClient
import DSICore
import DSINet
import Testing
