// A webhook receiver that checks the portal's signature (Node.js 18+, no packages).
// Run:  WEBHOOK_SECRET=<the endpoint's secret> node receiver.js 8080
const crypto = require("node:crypto");
const http = require("node:http");

const SECRET = process.env.WEBHOOK_SECRET;
const TOLERANCE = 300; // seconds

function verify(timestamp, body, header) {
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE) return false;
  const expected = crypto.createHmac("sha256", SECRET).update(timestamp + ".").update(body).digest();
  return header.split(",").map((p) => p.trim()).filter((p) => p.startsWith("v1="))
    .some((p) => {
      const given = Buffer.from(p.slice(3), "hex");
      return given.length === expected.length && crypto.timingSafeEqual(given, expected);
    });
}

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (!verify(req.headers["x-portal-timestamp"] || "", body, req.headers["x-portal-signature"] || "")) {
      res.writeHead(401).end(); // not from the portal
      return;
    }
    const event = JSON.parse(body);
    // x-portal-delivery is the same on every retry of a delivery: act on each id once.
    console.log(req.headers["x-portal-delivery"], event.type, JSON.stringify(event.data));
    res.writeHead(204).end();
  });
}).listen(Number(process.argv[2] || 8080), "127.0.0.1");
