// GreetingServerFixed.java: the seed's GreetingServer with its flaws fixed.
//
// 1. One bad connection no longer stops the server: the seed breaks out of its loop on
//    any IOException (a client that connects and closes, a malformed string), so a single
//    probe ends the service. Here each connection has its own try/catch.
// 2. The seed catches SocketTimeoutException but never sets a timeout, so a silent client
//    holds the (only) thread forever. Here each accepted socket gets a read timeout.
// 3. Sockets are closed on every path (try-with-resources), not only when all went well.
// It prints the same lines as the seed, so the same cells can read it.
import java.net.*;
import java.io.*;

public class GreetingServerFixed
{
   static final int CLIENT_TIMEOUT_MS = 10000;

   public static void main(String[] args) throws IOException
   {
      int port = Integer.parseInt(args[0]);
      try (ServerSocket serverSocket = new ServerSocket(port, 50, InetAddress.getLoopbackAddress()))
      {
         while (true)
         {
            System.out.println("等待远程连接,端口号为:" + serverSocket.getLocalPort() + "...");
            try (Socket server = serverSocket.accept())
            {
               server.setSoTimeout(CLIENT_TIMEOUT_MS);
               System.out.println("远程主机地址:" + server.getRemoteSocketAddress());
               DataInputStream in = new DataInputStream(server.getInputStream());
               System.out.println(in.readUTF());
               DataOutputStream out = new DataOutputStream(server.getOutputStream());
               out.writeUTF("谢谢连接我:" + server.getLocalSocketAddress() + "\nGoodbye!");
            }
            catch (SocketTimeoutException e)
            {
               System.out.println("连接出错: the client sent nothing for " + CLIENT_TIMEOUT_MS + " ms");
            }
            catch (IOException e)
            {
               System.out.println("连接出错: " + e);  // this client's problem; serve the next one
            }
         }
      }
   }
}
