// A small line of recent values on a canvas: the circuits' two-minute request rate.

/**
 * Draw points (oldest first) as a line over the last `windowMs`, scaled to the largest.
 * @param {HTMLCanvasElement} canvas
 * @param {Array<[number, number]>} points [epoch ms, value]
 * @param {{windowMs: number, now?: number, color?: string}} options
 */
export function drawSparkline(canvas, points, { windowMs, now = Date.now(), color = "#1f5bd1" }) {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  // what the line shows, for people reading the page with tools (and for tests)
  canvas.dataset.points = String(points.length);
  canvas.dataset.spanS = String(points.length ? Math.round((points[points.length - 1][0] - points[0][0]) / 1000) : 0);
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#e3e7ee";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, height - 0.5);
  ctx.lineTo(width, height - 0.5);
  ctx.stroke();
  if (points.length < 2) return;
  const top = Math.max(...points.map(([, v]) => v), 1e-9);
  const x = (t) => width - ((now - t) / windowMs) * width;
  const y = (v) => height - 2 - (v / top) * (height - 4);
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
  ctx.stroke();
}
