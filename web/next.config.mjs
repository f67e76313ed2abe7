import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  // A self-contained server (.next/standalone/server.js) for the container image and the e2e test.
  output: "standalone",
  // The app is its own root (the repository around it is Rust).
  outputFileTracingRoot: here,
  turbopack: { root: here },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
