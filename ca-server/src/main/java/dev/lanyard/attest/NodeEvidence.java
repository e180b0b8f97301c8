package dev.lanyard.attest;

import java.security.cert.X509Certificate;
import java.util.List;

/** What a node agent presents to prove its node, one record per kind; the gRPC layer parses it from the request. */
public sealed interface NodeEvidence {

    /** The attestor kind that handles it, also the {@code <attestor>} in the agent's SPIFFE ID. */
    String kind();

    /** A one-time join token created for an agent. A secret: {@link #toString()} hides it. */
    record JoinToken(String token) implements NodeEvidence {
        @Override
        public String kind() {
            return "join_token";
        }

        @Override
        public String toString() {
            return "JoinToken[hidden]";
        }
    }

    /** The node's certificate chain, leaf first; the key is proven by a signed challenge. */
    record X509Pop(List<X509Certificate> chain) implements NodeEvidence {
        public X509Pop {
            chain = List.copyOf(chain);
        }

        @Override
        public String kind() {
            return "x509pop";
        }
    }

    /** A Kubernetes projected service-account token for a named cluster. A secret: hidden in {@link #toString()}. */
    record Psat(String cluster, String token) implements NodeEvidence {
        @Override
        public String kind() {
            return "k8s_psat";
        }

        @Override
        public String toString() {
            return "Psat[" + cluster + ", token hidden]";
        }
    }
}
